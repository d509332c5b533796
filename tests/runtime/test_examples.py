"""Every program in ``examples/`` runs, as a user would run it, and prints what it promises.

Each example is a subprocess (``python examples/<file>.py``). The runtime's own examples are
checked line by line; any other example found there must exit 0 and print something.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SEED = """\
 TASK_ADD_REQUESTED (task=flaky)
 TASK_ADDED (task=flaky)
 TASK_STARTING (task=flaky)
 TASK_FAILED (task=flaky)
 BACKOFF_SCHEDULED (task=flaky)
 TASK_STARTING (task=flaky)
 TASK_FAILED (task=flaky)
 BACKOFF_SCHEDULED (task=flaky)
 TASK_STARTING (task=flaky)
 TASK_STOPPED (task=flaky)
 ACTOR_EXHAUSTED (task=flaky)
 TASK_REMOVED (task=flaky)
"""

PERIODIC_POLLER = """\
attempt 1: reading 21
attempt 2: reading 22
  TASK_FAILED: ConnectionError: 503 Service Unavailable
attempt 4: reading 24
  TIMEOUT_HIT: after 0.1s
  TASK_FAILED: timed out after 0.1s
attempt 6: reading 26
attempt 7: reading 27
readings: [21, 22, 24, 26, 27]
"""

QUEUE_CONSUMER = """\
attempt 1: connected
  connection lost: broker closed the connection; reconnecting in 0.009s
attempt 2: connected
  connection lost: broker closed the connection; reconnecting in 0.014s
attempt 3: connected
  connection lost: broker closed the connection; reconnecting in 0.028s
attempt 4: connected
queue drained
processed ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']
outcome: COMPLETED after 4 attempts
"""

DYNAMIC_ADD_REMOVE = """\
add three regions
  live: sync-eu, sync-us, sync-ap
add sync-eu again
  rejected: a task named 'sync-eu' already exists
cancel sync-us (waits until it is gone)
  sync-us: stopping cleanly
  claimed=True, alive=False
  live: sync-eu, sync-ap
two concurrent cancels of sync-ap: exactly one claims it
  sync-ap: stopping cleanly
  claims: [False, True]
  live: sync-eu
reuse the name sync-us
  new id is greater than the old one: True
  live: sync-eu, sync-us
leave the block: graceful shutdown
  sync-eu: stopping cleanly
  sync-us: stopping cleanly
done
"""

WATCHED_OUTCOMES = """\
completes         COMPLETED attempts=1
flaky             COMPLETED attempts=3
always_fails      FAILED    attempts=3 exit_code=75: retry limit (2) reached; last failure: \
upstream down
misconfigured     FATAL     attempts=1 exit_code=78: missing API key
hangs             FAILED    attempts=1: timed out after 0.05s
gives_up          CANCELED  attempts=1: nothing to do today
waits_for_cancel  CANCELED  attempts=1: canceled
the dashboard missed events (True), no outcome was lost
"""

TENANT_SYNC = """\
revision 1 of every tenant is syncing
slots after the burst:
  acme     TERMINATING queued=1
  globex   TERMINATING queued=1
  initech  TERMINATING queued=1
acme     revision 4 won; 2 superseded, 1 canceled
globex   revision 3 won; 1 superseded, 1 canceled
initech  revision 2 won; 0 superseded, 1 canceled
applied: {'acme': 4, 'globex': 3, 'initech': 2}
peak syncs at once: 3, per tenant: 1
"""

# The crash-loop controls (docs/crash-loops.md), one program each, on virtual time.
HEALTHY_RESET = """\
reset_after=300.0: still connected after 30 days, 29 drops
  pauses stay at retry 0: 0.14s, 0.18s, 0.14s, 0.13s, ...; longest 0.20s
reset_after=None: FAILED after 4 attempts, on day 4
  pauses grew: 0.14s, 0.35s, 0.56s
  retry limit (3) reached; last failure: ConnectionError: connection reset by peer
"""

RESTART_INTENSITY = """\
per task: thumbnailer FAILED after 7 attempts
  restart intensity exceeded (more than 3 restarts within 60s); last failure: RuntimeError: \
segfault in the image decoder
  still running: ['api']
per supervisor: RestartIntensityExceeded: more than 5 restarts within 60s: the supervisor shut \
down
  raised 4.2s after the start, once api was stopped too
"""

CRITICAL_TASK = """\
  api: asked to stop, stopping cleanly
CriticalTaskFailed after 92s: critical task 'leader-lease' ended FAILED: retry limit (2) \
reached; last failure: ConnectionError: lock service unreachable
  task 'leader-lease': FAILED, 3 attempts
"""

RETRY_ON = """\
orders: COMPLETED after 3 attempt(s)
invoices: FATAL after 1 attempt(s)
  not retried (ValueError is not in retry_on): ValueError: invalid sslmode in \
'postgres://billing@db:5432/billing?sslmode=verify-fool'
"""

GIVE_UP = """\
export-eu: COMPLETED at 244s, 18 attempts
  exported
export-us: FAILED at 613s, 34 attempts
  gave up after 600s of failures; last failure: ConnectionRefusedError: warehouse refused the \
connection
"""

WATCHDOG = """\
attempt 1: 5 messages processed so far
  at 35s TIMEOUT_HIT: watchdog: no heartbeat for 30s
  restarting in 0.18s
attempt 2: 10 messages processed so far
stopped cleanly; 10 messages processed
"""

# Examples built with the default subscribers (``subscribers=None``: a ``LogSubscriber``) show
# their warnings on stderr, through logging's last-resort handler: failures are never silent.
EXPECTED_STDERR = {
    "dynamic_add_remove.py": """\
task sync-eu add failed (ALREADY_EXISTS): a task named 'sync-eu' already exists
""",
    "tenant_sync.py": """\
controller rejected task sync-acme (SUPERSEDED_BY_REPLACE): rejected: SUPERSEDED_BY_REPLACE
controller rejected task sync-acme (SUPERSEDED_BY_REPLACE): rejected: SUPERSEDED_BY_REPLACE
controller rejected task sync-globex (SUPERSEDED_BY_REPLACE): rejected: SUPERSEDED_BY_REPLACE
""",
}

RETRY_BUDGET = """\
t= 0.5  worker-3: no token, waits 1.0s more
t= 0.5  worker-4: no token, waits 2.0s more
t= 0.5  worker-5: no token, waits 3.0s more
t= 0.5  worker-6: no token, waits 4.0s more
t= 1.0  worker-1: no token, waits 4.5s more
t= 1.0  worker-2: no token, waits 5.5s more
t= 2.0  worker-3: no token, waits 5.5s more
t= 3.0  worker-4: no token, waits 5.5s more
t= 4.0  worker-5: no token, waits 5.5s more
t= 4.5  worker-6: connected (attempt 2)
t= 5.5  worker-1: connected (attempt 3)
t= 6.5  worker-2: connected (attempt 3)
t= 7.5  worker-3: connected (attempt 3)
t= 8.5  worker-4: connected (attempt 3)
t= 9.5  worker-5: connected (attempt 3)
database attempts per second, with the budget:    [8, 1, 1, 1, 1, 1, 1, 1, 1, 1]
database attempts per second, without a budget:   [12, 12, 12, 12, 6]
"""

RETRY_AFTER = """\
attempt 1: HTTP 429, Retry-After: 45
  restart in 45s: rule 'retry-after', retry 0, base 45s
attempt 2: HTTP 503, Retry-After: Thu, 01 Jan 2026 12:00:20 GMT
  restart in 20s: rule 'retry-after', retry 1, base 20s
attempt 3: HTTP 503
  restart in 8s: rule 'backoff', retry 2, base 8s
attempt 4: HTTP 200
outcome: COMPLETED after 4 attempts
"""

START_JITTER = """\
in step (no jitter):
  poller-1:    0.0   60.0  120.0  180.0  240.0
  poller-2:    0.0   60.0  120.0  180.0  240.0
  poller-3:    0.0   60.0  120.0  180.0  240.0
  poller-4:    0.0   60.0  120.0  180.0  240.0
  poller-5:    0.0   60.0  120.0  180.0  240.0
  spread of each round of polls: 0.0s, 0.0s, 0.0s, 0.0s, 0.0s
dispersed (start_jitter=10, jitter=0.1):
  poller-1:    1.0   57.9  114.2  169.5  233.7
  poller-2:    6.8   69.8  128.4  184.4
  poller-3:    9.1   72.1  127.0  184.1
  poller-4:    3.5   62.7  124.9  186.5
  poller-5:    8.5   63.5  118.4  177.5  235.8
  spread of each round of polls: 8.1s, 14.2s, 14.2s, 17.0s
"""

EXPECTED = {
    "seed.py": SEED,
    "periodic_poller.py": PERIODIC_POLLER,
    "queue_consumer.py": QUEUE_CONSUMER,
    "dynamic_add_remove.py": DYNAMIC_ADD_REMOVE,
    "watched_outcomes.py": WATCHED_OUTCOMES,
    "tenant_sync.py": TENANT_SYNC,
    "healthy_reset.py": HEALTHY_RESET,
    "restart_intensity.py": RESTART_INTENSITY,
    "critical_task.py": CRITICAL_TASK,
    "retry_on.py": RETRY_ON,
    "give_up.py": GIVE_UP,
    "watchdog.py": WATCHDOG,
    "retry_budget.py": RETRY_BUDGET,
    "retry_after.py": RETRY_AFTER,
    "start_jitter.py": START_JITTER,
}


def run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=path.parent.parent,
        check=False,
    )


# Examples with a test of their own, because they do not end on their own.
OWN_TEST = {"asgi_service.py": "test_asgi_service.py (a server, stopped by SIGTERM)"}


def test_the_runtimes_examples_are_all_there() -> None:
    assert set(EXPECTED) <= {p.name for p in EXAMPLES.glob("*.py")}


@pytest.mark.parametrize(
    "name", sorted(p.name for p in EXAMPLES.glob("*.py") if p.name not in OWN_TEST)
)
def test_example_runs(name: str) -> None:
    result = run(EXAMPLES / name)
    assert result.returncode == 0, result.stderr
    if name in EXPECTED:
        assert result.stderr == EXPECTED_STDERR.get(name, "")
        assert result.stdout == EXPECTED[name]
    else:
        assert result.stdout.strip()
