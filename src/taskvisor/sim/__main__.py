"""``python -m taskvisor.sim SCENARIO ...``: the same command as ``taskvisor sim``."""

from __future__ import annotations

from taskvisor.sim._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
