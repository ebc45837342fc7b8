"""The inside of one local execution environment (run as a child process by workers.py).

Protocol: one JSON object per line. The parent writes {"id", "event", "deadline_ms"} to
stdin; this process answers {"id", "ok", "result" | "error", "init_ms"} on the file
descriptor that was stdout when it started. Everything the handler prints (Powertools
logs, print()) goes to stderr, which the parent prefixes with the function's name.

This file is run by path, not imported as part of roomcast_local, so the handler's
sys.path holds its code directory and its layers only, as in Lambda.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of Lambda's Python context object."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("ROOMCAST_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-8:],
    }


def main() -> None:
    # The runtime decides when this process ends (stdin closes, or it is killed).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the protocol channel private: the handler's stdout is redirected to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)

    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler: Any = None
    init_error: dict[str, Any] | None = None

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        response: dict[str, Any] = {"id": request["id"]}
        if handler is None and init_error is None:
            started = time.perf_counter()
            try:
                handler = getattr(importlib.import_module(module_name), function_name)
            except Exception as exc:  # an import error is Lambda's Runtime.ImportModuleError
                init_error = _error(exc, "Runtime.ImportModuleError")
                traceback.print_exc()
            response["init_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if init_error is not None:
            response.update(ok=False, error=init_error)
        else:
            context = LambdaContext(request["id"], int(request["deadline_ms"]))
            try:
                result = handler(request["event"], context)
                response.update(ok=True, result=result)
                encoded = json.dumps(response)
            except Exception as exc:
                # Lambda logs the error and returns it as the invocation's payload.
                traceback.print_exc()
                response.pop("result", None)
                response.update(ok=False, error=_error(exc))
                encoded = json.dumps(response)
            channel.write(encoded + "\n")
            continue
        channel.write(json.dumps(response) + "\n")


if __name__ == "__main__":
    main()
