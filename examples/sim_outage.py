"""Why jitter matters: 1000 supervised tasks share a dependency that is down for 60 s.

Runs the simulator's ``outage`` scenario (the same core and policies as production, on virtual
time) for the four jitters and prints the table: without jitter every task comes back at the
same instant (``return_peak``) and the herd keeps failing against the dependency's admission
limit (``wasted`` attempts, slow ``recovery``); with jitter the herd spreads out.
"""

from __future__ import annotations

from taskvisor.__main__ import main  # the `taskvisor` command, called in-process

if __name__ == "__main__":
    main(["sim", "outage", "--jitter", "none,full,equal,decorrelated", "--seeds", "5"])
