"""Warm worker processes, one execution environment each, as Lambda keeps them.

Every function gets a pool of child processes (lambda_worker.py) with the function's own
environment variables and module state. One process runs one invocation at a time, like
an execution environment; when all of a function's processes are busy and the pool is
below its size (--max-concurrency, or the function's ReservedConcurrentExecutions if
smaller), another is started — a new cold start, as in Lambda. A process whose
invocation overruns the function's Timeout is killed and replaced on the next call.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from roomcast_local.template import FunctionSpec

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
# Started with -c so that sys.path[0] is the code directory (the working directory),
# not this package's directory.
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
# Host variables a Python process needs; nothing else of the runtime's env leaks in.
_HOST_VARS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")

LogSink = Callable[[str, str], None]


class InvokeError(Exception):
    """An invocation that failed: the handler raised, timed out, or its process died."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.error = dict(error)


@dataclass
class Invocation:
    result: Any
    duration_ms: float
    init_ms: float | None


class Worker:
    """One child process: a warm execution environment."""

    _ids = itertools.count(1)

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], log: LogSink) -> None:
        self.spec = spec
        self.index = next(self._ids)
        self.label = f"{spec.logical_id}#{self.index}"
        self._log = log
        self._responses: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.initialized = False
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", _BOOT, str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=spec.code_dir,
            # Its own process group: a terminal's Ctrl-C reaches the runtime, which then
            # stops the workers, instead of interrupting invocations mid-flight.
            start_new_session=True,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        assert self.process.stdout and self.process.stderr
        threading.Thread(target=self._read_responses, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(target=self._read_logs, args=(self.process.stderr,), daemon=True).start()

    def _read_responses(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                self._responses.put(json.loads(line))
            except ValueError:
                self._log(self.label, f"unreadable worker output: {line.rstrip()[:200]}")
        self._responses.put(None)  # EOF: the process is gone

    def _read_logs(self, stream: IO[str]) -> None:
        for line in stream:
            self._log(self.label, line.rstrip("\n"))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        timeout = self.spec.timeout
        started = time.perf_counter()
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        try:
            assert self.process.stdin
            self.process.stdin.write(json.dumps({"id": request_id, "event": event, "deadline_ms": deadline_ms}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise InvokeError({"errorType": "Runtime.ExitError", "errorMessage": f"worker unavailable: {exc}"}) from exc
        while True:
            # A cold start's import time does not count against the timeout here (Lambda
            # gives init its own 10 s budget); a small grace covers process scheduling.
            budget = timeout + 0.5 if self.initialized else timeout + 10.5
            try:
                response = self._responses.get(timeout=budget)
            except queue.Empty:
                response = None
                timed_out = True
            else:
                timed_out = False
            if response is None:
                elapsed = time.perf_counter() - started
                self.kill()
                if timed_out or elapsed >= timeout:
                    self._log(self.label, f"Task timed out after {timeout:.2f} seconds")
                    raise InvokeError(
                        {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
                    )
                raise InvokeError({"errorType": "Runtime.ExitError", "errorMessage": "the worker process exited"})
            if response.get("id") == request_id:
                break
        init_ms = response.get("init_ms")
        self.initialized = True
        duration_ms = (time.perf_counter() - started) * 1000 - (init_ms or 0)
        if init_ms is not None:
            self._log(self.label, f"cold start: Init Duration {init_ms:.1f} ms")
        if duration_ms > timeout * 1000:
            # The handler finished, but after its deadline: Lambda would have cut it off.
            self.kill()
            self._log(self.label, f"Task timed out after {timeout:.2f} seconds")
            raise InvokeError(
                {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
            )
        if not response.get("ok"):
            raise InvokeError(response.get("error") or {"errorType": "Unknown", "errorMessage": ""})
        return Invocation(result=response.get("result"), duration_ms=duration_ms, init_ms=init_ms)

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def close_input(self) -> None:
        """Close stdin: the worker's loop ends and the process exits on its own."""
        try:
            if self.process.stdin:
                self.process.stdin.close()
        except OSError:
            pass

    def wait_or_kill(self, deadline: float) -> None:
        try:
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()


class FunctionPool:
    """The execution environments of one function."""

    def __init__(self, spec: FunctionSpec, env: Mapping[str, str], max_workers: int, log: LogSink) -> None:
        self.spec = spec
        self.env = dict(env)
        self.max_workers = max(1, min(max_workers, spec.reserved_concurrency or max_workers))
        self._log = log
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._count = 0
        self._closed = False
        self._cond = threading.Condition()
        self.invocations = 0
        self.cold_starts = 0

    def prestart(self) -> None:
        """Start one process ahead (the handler is still imported on the first call)."""
        with self._cond:
            if self._count or self._closed:
                return
            self._count += 1
        worker = self._spawn()
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _spawn(self) -> Worker:
        try:
            worker = Worker(self.spec, self.env, self._log)
            with self._cond:
                self._all.add(worker)
            return worker
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _acquire(self) -> Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise InvokeError({"errorType": "Runtime.Shutdown", "errorMessage": "the runtime is stopping"})
                while self._idle:
                    worker = self._idle.pop()  # the most recently used: the warmest
                    if worker.alive:
                        return worker
                    self._count -= 1
                if self._count < self.max_workers:
                    self._count += 1
                    break
                self._cond.wait()
        return self._spawn()

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if worker.alive and not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
            self._count -= 1
            self._all.discard(worker)
            self._cond.notify()
        worker.kill()

    def invoke(self, event: Any) -> Invocation:
        worker = self._acquire()
        try:
            result = worker.invoke(event)
            return result
        finally:
            self.invocations += 1
            self._release(worker)

    def workers(self) -> list[Worker]:
        with self._cond:
            return list(self._all)

    def close(self) -> list[Worker]:
        """Refuse new invocations; kill busy workers, ask idle ones to exit; return those."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = [w for w in self._all if w not in idle]
            self._cond.notify_all()
        for worker in busy:
            if worker.alive:
                worker.process.kill()  # an invocation in flight at shutdown is cut off
        for worker in idle:
            worker.close_input()
        return idle + busy


class Functions:
    """Every function of the template, invoked by logical id."""

    def __init__(self, pools: Mapping[str, FunctionPool]) -> None:
        self.pools = dict(pools)

    def invoke(self, logical_id: str, event: Any) -> Invocation:
        pool = self.pools.get(logical_id)
        if pool is None:
            raise InvokeError({"errorType": "ResourceNotFoundException", "errorMessage": f"no function {logical_id}"})
        return pool.invoke(event)

    def stop(self, grace: float = 2.0) -> None:
        """Idle workers exit on their own within `grace`; the rest are killed, all at once
        (one by one, dozens of exiting interpreters on a busy machine take seconds)."""
        exiting = [worker for pool in self.pools.values() for worker in pool.close()]
        deadline = time.monotonic() + grace
        while exiting and time.monotonic() < deadline:
            exiting = [worker for worker in exiting if worker.process.poll() is None]
            time.sleep(0.02)
        for worker in exiting:
            with contextlib.suppress(OSError):
                worker.process.kill()
        reap_by = time.monotonic() + 0.5
        for worker in exiting:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=max(0.01, reap_by - time.monotonic()))

    def kill_all(self) -> None:
        """Every worker process, now (the runtime is exiting without waiting)."""
        for pool in self.pools.values():
            for worker in pool.workers():
                if worker.alive:
                    worker.process.kill()


def worker_environment(
    spec: FunctionSpec,
    function_name: str,
    function_env: Mapping[str, str],
    region: str,
    extra: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What a Lambda execution environment's process sees: the function's variables, the
    runtime's reserved ones, and the local endpoints/credentials in `extra`."""
    env = {name: os.environ[name] for name in _HOST_VARS if name in os.environ}
    env.update(
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_LAMBDA_FUNCTION_NAME=function_name,
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function_name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"local/{spec.logical_id}",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.13",
        LAMBDA_TASK_ROOT=str(spec.code_dir),
        _HANDLER=spec.handler,
        TZ=":UTC",
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        # The code directory first, then the layers, as /var/task then /opt/python.
        PYTHONPATH=os.pathsep.join([str(spec.code_dir), *(str(p) for p in spec.layer_dirs)]),
    )
    env.update(extra)
    env.update(function_env)
    env.update(overrides or {})
    return env
