"""Background tasks inside a web service: a Starlette app whose lifespan runs ``Supervisor.serve``.

The supervisor lives exactly as long as the application: the lifespan enters
``Supervisor.serve(signals=False)`` (uvicorn owns SIGINT/SIGTERM), adds three background tasks,
and hands the handle to the routes. When uvicorn shuts down (SIGTERM from Kubernetes, Ctrl+C),
it stops taking requests, then ends the lifespan: leaving ``serve`` cancels every task, waits
up to ``grace`` for their ``finally`` blocks, drains the subscribers, and only then does the
process exit.

Routes:

- ``GET /healthz``: 200 while no live task is crash-looping, else 503 naming the tasks. The rule
  (docs/recipes.md): a task is crash-looping when its last ``UNHEALTHY_STREAK`` attempts in a
  row failed: ``streak`` in ``handle.snapshot()``.
- ``GET /metrics``: the Prometheus exposition of the supervisor's metrics.
- ``POST /jobs`` with ``{"name": str, "seconds": float, "fail": bool}``: adds a one-off job
  through the handle (``"fail": true`` makes one that always fails and keeps retrying, to see
  ``/healthz`` and ``/metrics`` react). 202 with its id; 409 if a live task has that name.

Needs the ``prometheus`` extra plus ``starlette`` and ``uvicorn``. Run:
``python examples/asgi_service.py --port 8000`` (or ``uvicorn examples.asgi_service:app``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any

import anyio
import prometheus_client
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import taskvisor as tv
from taskvisor.contrib.prometheus import PrometheusSubscriber

log = logging.getLogger("service")

#: A task whose last this-many attempts all failed makes /healthz answer 503.
UNHEALTHY_STREAK = 3


def crash_looping(handle: tv.SupervisorHandle) -> list[str]:
    """The live tasks whose last ``UNHEALTHY_STREAK`` attempts all failed.

    Read from ``handle.snapshot()``: the core's own count of failures in a row (reset by a
    success or a healthy run), copied without a round trip, so no subscriber is needed.
    """
    return [t.name for t in handle.snapshot() if t.streak >= UNHEALTHY_STREAK]


# -- the background tasks ---------------------------------------------------------------------


async def heartbeat(ctx: tv.TaskContext) -> None:
    """Runs for the life of the service; stops when cancelled."""
    try:
        while True:
            await ctx.run_until_cancelled(anyio.sleep(1.0))
    finally:
        log.info("%s: stopped", ctx.name)


async def outbox_relay(ctx: tv.TaskContext) -> None:
    """Would forward pending messages; checks for cancellation between batches."""
    try:
        while not ctx.is_cancelled:
            await ctx.run_until_cancelled(anyio.sleep(0.5))
    finally:
        log.info("%s: stopped", ctx.name)


async def refresh_cache(ctx: tv.TaskContext) -> None:
    """One quick refresh per attempt; the supervisor runs it again every 2 s."""
    await anyio.sleep(0.01)


def background_tasks() -> list[tv.TaskSpec]:
    backoff = tv.BackoffPolicy.exponential(0.1, max=5.0)
    return [
        tv.TaskSpec.restartable(tv.TaskFn("heartbeat", heartbeat), backoff=backoff),
        tv.TaskSpec.restartable(tv.TaskFn("outbox-relay", outbox_relay), backoff=backoff),
        tv.TaskSpec.periodic(tv.TaskFn("cache-refresher", refresh_cache), every=2.0),
    ]


def job_spec(name: str, seconds: float, fail: bool) -> tv.TaskSpec:
    """A job from ``POST /jobs``: runs once, or (``fail``) fails and retries until removed."""

    async def run(ctx: tv.TaskContext) -> None:
        # Cooperative: a shutdown interrupts the wait at once (tv.Canceled), within grace.
        await ctx.run_until_cancelled(anyio.sleep(seconds))
        if fail:
            raise tv.Fail("upstream refused the job")

    if fail:
        return tv.TaskSpec.restartable(
            tv.TaskFn(name, run), backoff=tv.BackoffPolicy.exponential(0.05, max=1.0)
        )
    return tv.TaskSpec.once(tv.TaskFn(name, run))


# -- the application --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    """The supervisor runs for the life of the application (Starlette's lifespan state)."""
    registry = prometheus_client.CollectorRegistry()
    supervisor = tv.Supervisor(
        tv.SupervisorConfig(grace=5.0),
        subscribers=[tv.LogSubscriber(), PrometheusSubscriber(registry)],
    )
    try:
        # uvicorn handles SIGINT/SIGTERM and ends the lifespan: the supervisor must not take them.
        async with supervisor.serve(signals=False) as handle:
            for spec in background_tasks():
                await handle.add(spec)
            yield {"handle": handle, "registry": registry}
    except tv.GraceExceeded as exc:
        # Everything is stopped all the same; say which tasks ignored cancellation.
        log.error("force-cancelled after %gs of grace: %s", exc.grace, ", ".join(exc.stuck))
    log.info("supervisor stopped")


async def healthz(request: Request) -> Response:
    handle: tv.SupervisorHandle = request.state.handle
    failing = crash_looping(handle)
    body = {"status": "failing" if failing else "ok", "crash_looping": failing}
    return JSONResponse(body, status_code=503 if failing else 200)


async def metrics(request: Request) -> Response:
    payload = prometheus_client.generate_latest(request.state.registry)
    return Response(payload, media_type=prometheus_client.CONTENT_TYPE_LATEST)


async def add_job(request: Request) -> Response:
    handle: tv.SupervisorHandle = request.state.handle
    try:
        body = await request.json()
        name = str(body["name"])
        spec = job_spec(name, float(body.get("seconds", 0.1)), bool(body.get("fail", False)))
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"error": f"bad job: {exc!r}"}, status_code=400)
    try:
        task_id = await handle.add(spec)
    except tv.TaskAlreadyExists:
        return JSONResponse({"error": f"a job named {name!r} is running"}, status_code=409)
    except tv.ShuttingDown:
        return JSONResponse({"error": "shutting down"}, status_code=503)
    return JSONResponse({"task_id": task_id.value, "name": name}, status_code=202)


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/jobs", add_job, methods=["POST"]),
    ],
    lifespan=lifespan,
)


# -- running it -------------------------------------------------------------------------------


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description="taskvisor inside a Starlette service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # After its graceful shutdown, uvicorn raises the signal that stopped it again, with the
    # handler that was there before it started: the default one would end the process "killed
    # by SIGTERM" (status 143). The shutdown was clean, so this service exits 0 instead.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
