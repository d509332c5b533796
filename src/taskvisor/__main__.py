"""The ``taskvisor`` console script (``python -m taskvisor`` too).

Owns the top-level command and its sub-commands; today one, ``sim`` (the simulator:
``taskvisor sim SCENARIO ...``). Parsing errors are one line and exit with code 2.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``taskvisor`` with ``argv`` (default: the process's arguments); returns the exit code."""
    from taskvisor.sim._cli import OneLineParser, add_sim_arguments, run

    parser = OneLineParser(
        prog="taskvisor",
        description="taskvisor: supervise long-running async background tasks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sim = commands.add_parser(
        "sim",
        help="simulate restart and backoff policies on virtual time with the production core",
        description="Simulate restart and backoff policies on virtual time with the "
        "production core: pick a scenario, compare policies over seeds.",
    )
    add_sim_arguments(sim)
    return run(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
