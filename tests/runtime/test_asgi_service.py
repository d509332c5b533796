"""examples/asgi_service.py end to end: uvicorn in a child process, real HTTP, a real SIGTERM.

The service is started as a user would start it (``python examples/asgi_service.py --port N``)
on a free loopback port; httpx talks to it; a job made to fail shows in ``/healthz`` (503) and
``/metrics``; then SIGTERM: the server must stop its tasks within grace and exit 0. Every wait
is a bounded poll of the real service, never a fixed sleep.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "asgi_service.py"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """The example running in a child process; its output goes to a file (no pipe to fill)."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.log = tmp / "service.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(EXAMPLE), "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5.0)

    def output(self) -> str:
        return self.log.read_text()

    def until(self, what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Poll ``check`` until it returns something truthy; fail, with the output, if it never
        does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the service exited ({self.proc.returncode}):\n{self.output()}")
            try:
                result = check()
            except httpx.TransportError:
                result = None
            if result:
                return result
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}:\n{self.output()}")

    def close(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    try:
        yield svc
    finally:
        svc.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_service_reports_a_crash_looping_job_and_stops_cleanly_on_sigterm(
    service: Service,
) -> None:
    http = service.http
    ready = service.until("the service to answer", lambda: http.get("/healthz"))
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "crash_looping": []})

    # A job through the handle; a second one with the same name while it runs is refused.
    added = http.post("/jobs", json={"name": "report", "seconds": 60})
    assert added.status_code == 202
    assert added.json()["name"] == "report"
    assert http.post("/jobs", json={"name": "report"}).status_code == 409
    assert http.post("/jobs", json={"seconds": 1}).status_code == 400

    # A job that always fails: after 3 failures in a row the service reports it unhealthy.
    assert http.post("/jobs", json={"name": "import", "fail": True}).status_code == 202
    unhealthy = service.until(
        "/healthz to turn 503", lambda: (r := http.get("/healthz")).status_code == 503 and r
    )
    assert unhealthy.json() == {"status": "failing", "crash_looping": ["import"]}

    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = _samples(metrics.text)
    assert samples[("taskvisor_task_restarts_total", (("task", "import"),))] >= 2
    assert samples[("taskvisor_events_total", (("kind", "TASK_FAILED"),))] >= 3
    assert samples[("taskvisor_tasks_live", ())] == 5  # three background tasks, two jobs

    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(30) == 0, service.output()
    lines = service.output().splitlines()

    def at(line: str) -> int:
        assert line in lines, f"{line!r} not in the output:\n" + "\n".join(lines)
        return lines.index(line)

    # uvicorn stops serving, ends the lifespan; leaving serve() stops every task within grace
    # (the long-running ones ran their `finally`), then the application shutdown completes.
    begin = at("INFO uvicorn.error: Waiting for application shutdown.")
    end = at("INFO uvicorn.error: Application shutdown complete.")
    for line in (
        "INFO service: heartbeat: stopped",
        "INFO service: outbox-relay: stopped",
        "INFO taskvisor: shutdown requested",
        "INFO taskvisor: task heartbeat removed: CANCELED",
        "INFO taskvisor: task outbox-relay removed: CANCELED",
        "INFO taskvisor: task cache-refresher removed: CANCELED",
        "INFO taskvisor: task report removed: CANCELED",
        "INFO taskvisor: task import removed: CANCELED",
        "INFO taskvisor: all tasks stopped within grace",
        "INFO service: supervisor stopped",
    ):
        assert begin < at(line) < end
    assert at("INFO taskvisor: all tasks stopped within grace") < at(
        "INFO service: supervisor stopped"
    )
    assert "Traceback" not in service.output()
