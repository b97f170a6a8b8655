"""Compute requests in worker processes that can really be stopped, under a time budget.

A request that routes, draws isochrones or analyses a footprint runs in a worker process,
never in the server: when it overruns its budget the worker is killed (SIGKILL, so even
GEOS deep in ``make_valid`` stops) and replaced, and the client gets a 504 with the
budget in the message. The server's own threads only wait, so ``/health`` and the
cheap reads stay fast while workers are busy.

Workers are forked, with everything the service warmed at start-up (graphs, engines,
grids, bands) shared copy-on-write, from a *zygote*: a process forked once, right
after the warm-up, that does nothing but fork. A replacement worker is therefore ready in
milliseconds, and no worker is ever forked from the multi-threaded server itself. Each
worker connects back to the server over a Unix socket with a random key.

A job is a module-level function ``fn(ctx, *args)``; its result comes back pickled, so
jobs return plain data or a finished :class:`~starlette.responses.Response` (the
serialising happens in the worker, too).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import logging
import multiprocessing as mp
import os
import queue
import secrets
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel
from starlette.responses import FileResponse, JSONResponse, Response

from api.errors import ApiError

if TYPE_CHECKING:
    from api.context import Context

__all__ = ["ComputePool", "WorkerCrashedError", "bounded"]

log = logging.getLogger(__name__)

T = TypeVar("T")
INLINE_JOB_BYTES = 256 * 1024  # a bigger job (an uploaded file) is handed to its worker from a thread

# Modules a warm start does not import (nothing at start-up needs them) but many requests
# do: an idle worker imports them, so that no request waits for them.
_DEFERRED_IMPORTS = ("scipy.ndimage", "folium", "api.maps")
_IDLE_IMPORT_S = 1.0
_CTX: Context | None = None  # the context a worker computes with (inherited from the zygote)
_IN_WORKER = False  # True inside a worker: nested runs happen in place


def _timeout_message(budget: float) -> str:
    return (
        f"the request ran out of its time budget of {budget:g} s and was stopped; "
        "make it smaller (fewer points or vertices, shorter times) or raise VENUE_PLANNER_COMPUTE_TIMEOUT_S."
    )


class WorkerCrashedError(RuntimeError):
    """A worker died while computing (out of memory, a crash in a C library)."""


def _crashed(exc: BaseException) -> WorkerCrashedError:
    return WorkerCrashedError(f"a compute worker died on this request: {exc}")


def _worker_main(address: str, authkey: bytes) -> None:
    """Serve jobs until the server hangs up (runs in a forked worker)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _IN_WORKER
    _IN_WORKER = True
    conn = Client(address, family="AF_UNIX", authkey=authkey)
    conn.send(os.getpid())
    deferred = list(_DEFERRED_IMPORTS)
    while True:
        # After a second without a job (never in the way of the first answers after a start,
        # nor of a burst of requests: an import takes up to 0.2 s), import what the warm-up
        # left to first use, one module at a time.
        if deferred and not conn.poll(_IDLE_IMPORT_S):
            importlib.import_module(deferred.pop())
            continue
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, args = job
        try:
            out: tuple[str, Any] = _pack(fn(_CTX, *args))
        except Exception as exc:  # the server turns it into the error table's answer
            try:
                out = ("err", exc)
                conn.send(out)
                continue
            except Exception:  # an exception that does not pickle
                out = ("err", RuntimeError(f"{type(exc).__name__}: {exc}"))
            log.debug("job failed: %s", traceback.format_exc())
        conn.send(out)


def _zygote_main(commands: Connection, address: str, authkey: bytes) -> None:
    """Fork a worker for every command received; exit when the server hangs up."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            cmd = commands.recv()
        except (EOFError, OSError):
            os._exit(0)
        if cmd != "spawn":
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                commands.close()
                _worker_main(address, authkey)
            except BaseException:
                code = 1
            finally:
                os._exit(code)


@dataclass
class _Worker:
    pid: int
    conn: Connection


class ComputePool:
    """Worker processes for compute requests, each job under a time budget.

    Parameters
    ----------
    workers
        How many worker processes (0: run jobs in the calling thread, without a budget).
    timeout_s
        Time budget of one job, queueing for a free worker included.
    """

    def __init__(self, *, workers: int, timeout_s: float, max_waiting: int = 256) -> None:
        self.size = workers
        self.timeout_s = timeout_s
        self.max_waiting = max_waiting
        # Last in, first out: the worker that answered last takes the next job, with its
        # caches still warm (a sequential client's routes: 0.63 ms of compute instead of 0.73).
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._waiting = 0  # jobs waiting in `run` for a worker
        self._zygote: Any = None
        self._commands: Connection | None = None
        self._listener: Listener | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._closed = False
        self._ctx: Context | None = None
        self.killed = 0
        self._limiter: anyio.CapacityLimiter | None = None
        self._gate: anyio.Semaphore | None = None

    @property
    def running(self) -> bool:
        """True when jobs run in worker processes."""
        return self._zygote is not None and not self._closed

    def limiter(self) -> anyio.CapacityLimiter:
        """Return the limiter of the threads that wait for workers (made in the event loop)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_waiting)
        return self._limiter

    def bind(self, ctx: Context) -> None:
        """Set the context jobs run with (in place, until `start`)."""
        self._ctx = ctx

    def start(self, ctx: Context) -> None:
        """Fork the zygote from this (warmed) process and start the workers."""
        global _CTX
        self._ctx = ctx
        if self.size <= 0 or self.running:
            return
        _CTX = ctx
        self._tmp = tempfile.TemporaryDirectory(prefix="venue-planner-pool-")
        address = str(Path(self._tmp.name) / "pool.sock")
        authkey = secrets.token_bytes(32)
        self._listener = Listener(address, family="AF_UNIX", authkey=authkey)
        parent, child = mp.get_context("fork").Pipe()
        self._zygote = mp.get_context("fork").Process(
            target=_zygote_main, args=(child, address, authkey), name="venue-planner-zygote", daemon=True
        )
        self._zygote.start()
        child.close()
        self._commands = parent
        for _ in range(self.size):
            self._idle.put(self._spawn())
        log.info("compute pool: %d workers, budget %.1f s", self.size, self.timeout_s)

    def _spawn(self) -> _Worker:
        assert self._commands is not None
        assert self._listener is not None
        with self._lock:
            self._commands.send("spawn")
            conn = self._listener.accept()
        pid = int(conn.recv())
        return _Worker(pid, conn)

    def close(self) -> None:
        """Stop every worker and the zygote."""
        self._closed = True
        while True:
            try:
                w = self._idle.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(OSError):
                w.conn.send(None)
            w.conn.close()
        if self._commands is not None:
            with contextlib.suppress(OSError):
                self._commands.send("stop")
            self._commands.close()
        if self._zygote is not None:
            self._zygote.join(timeout=5)
            if self._zygote.is_alive():
                self._zygote.kill()
        if self._listener is not None:
            self._listener.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _release(self, w: _Worker) -> None:
        """Put a worker back in the pool (unless the pool is closing)."""
        if not self._closed:
            self._idle.put(w)

    def _kill(self, w: _Worker) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(w.pid, signal.SIGKILL)
        w.conn.close()
        self.killed += 1

    async def arun(self, fn: Callable[..., T], *args: Any) -> T:  # noqa: ANN401 - any job
        """Run ``fn(ctx, *args)`` like `run`, waiting for the answer in the event loop rather than in a thread.

        A free worker takes a small job at once and the event loop waits for its answer
        (two thread hand-overs fewer per request than `run`). Without a free worker, or
        for a job of more than `INLINE_JOB_BYTES`, the job waits in a thread as in `run`.
        The answer is awaited to its end even when the client goes away (shielded): a
        worker goes back to the pool only with nothing left to read.
        """
        if not self.running or _IN_WORKER:
            return await anyio.to_thread.run_sync(functools.partial(self.run, fn, *args), limiter=self.limiter())
        # Jobs queue for the workers in the event loop, first come first served (anyio's
        # semaphore is fair): a job arriving as a worker comes free never overtakes those that
        # waited (under 32 concurrent routes the p99 fell from 131 to under 100 ms, bench/hosts.py).
        if self._gate is None:
            self._gate = anyio.Semaphore(max(1, self.size))
        try:
            self._gate.acquire_nowait()  # a free place: no waiter can be ahead (no checkpoint, no scope)
        except anyio.WouldBlock:
            with anyio.move_on_after(self.timeout_s) as scope:
                await self._gate.acquire()
            if scope.cancelled_caught:
                raise _busy(self.timeout_s) from None
        try:
            return await self._arun(fn, *args)
        finally:
            self._gate.release()

    async def _arun(self, fn: Callable[..., T], *args: Any) -> T:  # noqa: ANN401 - any job
        threaded = functools.partial(self.run, fn, *args)
        data = bytes(ForkingPickler.dumps((fn, args)))
        if len(data) > INLINE_JOB_BYTES:
            return await anyio.to_thread.run_sync(threaded, limiter=self.limiter())
        if self._waiting:  # first come, first served: no barging past the jobs already waiting
            return await anyio.to_thread.run_sync(threaded, limiter=self.limiter())
        try:
            w = self._idle.get_nowait()
        except queue.Empty:
            return await anyio.to_thread.run_sync(threaded, limiter=self.limiter())
        budget = self.timeout_s
        try:
            w.conn.send_bytes(data)
            cancelled = await _readable(w.conn.fileno(), budget)
            # Some event loops (uvloop) make a descriptor they watch non-blocking: the answer
            # may come in several pieces, and `recv` (and the thread path after) must wait for them.
            os.set_blocking(w.conn.fileno(), True)
            if not w.conn.poll():
                self._kill(w)
                w = await anyio.to_thread.run_sync(self._spawn)
                raise ApiError(504, "timeout", _timeout_message(budget))
            status, value = w.conn.recv()
        except (EOFError, OSError) as exc:
            self._kill(w)
            w = await anyio.to_thread.run_sync(self._spawn)
            raise _crashed(exc) from exc
        finally:
            self._release(w)
        if cancelled is not None:  # cancelled while the worker answered: its answer was read, now stop
            raise cancelled
        result: T = _unpack(status, value)
        return result

    def run(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None) -> T:  # noqa: ANN401 - any job
        """Run ``fn(ctx, *args)`` in a worker and return its result (blocking; call from a thread).

        Raises
        ------
        ApiError
            504 ``timeout`` when the budget runs out (the worker is killed and replaced),
            503 ``busy`` when no worker came free within the budget.
        """
        budget = self.timeout_s if timeout_s is None else timeout_s
        if not self.running or _IN_WORKER:
            assert self._ctx is not None, "the pool has no context: call bind() or start()"
            return fn(self._ctx, *args)
        deadline = time.monotonic() + budget
        with self._lock:
            self._waiting += 1
        try:
            w = self._idle.get(timeout=budget)
        except queue.Empty:
            raise _busy(budget) from None
        finally:
            with self._lock:
                self._waiting -= 1
        try:
            w.conn.send((fn, args))
            if not w.conn.poll(max(0.0, deadline - time.monotonic())):
                self._kill(w)
                w = self._spawn()
                raise ApiError(504, "timeout", _timeout_message(budget))
            status, value = w.conn.recv()
        except (EOFError, OSError) as exc:
            self._kill(w)
            w = self._spawn()
            raise _crashed(exc) from exc
        finally:
            self._release(w)
        result: T = _unpack(status, value)
        return result


def _busy(budget: float) -> ApiError:
    return ApiError(
        503,
        "busy",
        f"every compute worker stayed busy for the whole time budget ({budget:g} s); try again shortly.",
        headers={"retry-after": "5"},
    )


def _pack(value: object) -> tuple[str, Any]:
    """Return a job's answer as sent back.

    A plain `Response` travels as its status, headers and body (pickling the object took
    longer than the rest of the hand-over); anything else as it is.
    """
    if type(value) is Response:
        return "resp", (value.status_code, value.raw_headers, bytes(value.body))
    return "ok", value


def _unpack(status: str, value: Any) -> Any:  # noqa: ANN401 - any job's answer
    """Return the answer `_pack` sent (raise a job's exception)."""
    if status == "err":
        raise value
    if status == "resp":
        code, raw_headers, body = value
        out = Response(body, status_code=code)
        out.raw_headers = raw_headers
        return out
    return value


def _call(
    ctx: Context,
    module: str,
    qualname: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    services: tuple[tuple[str, str], ...],
) -> Any:  # noqa: ANN401
    """Run a `bounded` route's own body in a worker and serialise its answer there.

    ``services`` names the route's service arguments and the `Context` field each is (""
    for the context itself): the worker passes its own.
    """
    fn = getattr(importlib.import_module(module), qualname).__wrapped__
    own = {param: ctx if field == "" else getattr(ctx, field) for param, field in services}
    out = fn(*args, **kwargs, **own)
    spec = _SPECS[(module, qualname)]
    if isinstance(out, FileResponse):  # a download written to a temporary file: send its bytes
        data = Path(out.path).read_bytes()
        if out.background is not None:
            out.background.func(*out.background.args, **out.background.kwargs)
        headers = {k: v for k, v in out.headers.items() if k.lower() in ("content-disposition",)}
        return Response(data, status_code=out.status_code, media_type=out.media_type, headers=headers)
    if isinstance(out, Response):
        out.background = None
        return out
    if isinstance(out, str):
        return Response(out, status_code=spec.status, media_type=spec.media_type)
    if spec.model is not None and not isinstance(out, BaseModel):
        out = spec.model.model_validate(out)
    body = out.model_dump_json().encode() if isinstance(out, BaseModel) else JSONResponse(out).body
    return Response(body, status_code=spec.status, media_type=spec.media_type)


@dataclass(frozen=True)
class _Spec:
    media_type: str
    status: int
    model: type[BaseModel] | None


_SPECS: dict[tuple[str, str], _Spec] = {}  # how each bounded route's answer is serialised


def bounded(
    *, media_type: str = "application/json", status: int = 200, model: type[BaseModel] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a route's body in a compute worker under the time budget.

    The route takes the services it uses as typed dependencies (``routing: RoutingDep``,
    see `api.context`); the worker calls it with its own copies of them (inherited from the
    zygote), and the wrapper adds the compute pool as one more dependency. The route's
    result is serialised in the worker: a model as JSON, a dict validated by ``model``
    first, a `Response` as it is, with ``status`` and ``media_type``.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        from api.context import DEP_FIELDS, PoolDep  # api.context imports this module

        _SPECS[(fn.__module__, fn.__qualname__)] = _Spec(media_type, status, model)
        sig = inspect.signature(fn)
        # The route's service arguments and their Context fields, read once from its annotations
        # (strings under `from __future__ import annotations`, which every router uses).
        services = tuple(
            (name, DEP_FIELDS[str(p.annotation)])
            for name, p in sig.parameters.items()
            if isinstance(p.annotation, str) and p.annotation in DEP_FIELDS
        )

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - the route's own
            pool: ComputePool = kwargs.pop(_POOL_PARAM)
            # Waiting for a worker (when none is free) takes a thread of the pool's own
            # limiter, never one of the threads that serve /health and the cheap reads.
            return await pool.arun(_call, fn.__module__, fn.__qualname__, args, kwargs, services)

        extra = inspect.Parameter(_POOL_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=PoolDep)
        # The service arguments are left out of what FastAPI resolves: the worker passes its own
        # (resolving them here only to drop them was a tenth of a small route's time).
        own = [p for name, p in sig.parameters.items() if name not in dict(services)]
        wrapper.__dict__["__signature__"] = sig.replace(parameters=[*own, extra])  # what inspect.signature reads
        return wrapper

    return deco


async def _readable(fd: int, budget: float) -> asyncio.CancelledError | None:
    """Wait until ``fd`` can be read or ``budget`` seconds pass; return the cancellation that came meanwhile.

    Plain asyncio (a reader callback and a timer): anyio's cancel scopes cost more than the
    rest of the hand-over on a small route (bench/hosts.py). A cancellation (the client went
    away) does not stop the wait: a worker goes back to the pool only with nothing left to read.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, wake)
    timer = loop.call_later(budget, wake)
    cancelled = None
    try:
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError as exc:
                cancelled = exc
    finally:
        timer.cancel()
        loop.remove_reader(fd)
    return cancelled


_POOL_PARAM = "compute_pool_"  # the dependency `bounded` adds to a route (never a query parameter)
