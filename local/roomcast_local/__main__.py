"""`python -m roomcast_local`: the template on this machine (see docs/local-runtime.md)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from roomcast_local.runtime import Options, run


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float_env(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m roomcast_local",
        description="Run template.yaml on this machine: moto, a WebSocket gateway, the HTTP API, "
        "SQS pollers, the webhook receiver and the demo page. Port 0 picks a free port.",
    )
    parser.add_argument("--template", type=Path, default=Path(os.environ.get("ROOMCAST_TEMPLATE", "template.yaml")))
    parser.add_argument("--host", default=os.environ.get("ROOMCAST_HOST", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; the runtime is a dev tool)")
    parser.add_argument("--http-port", type=int, default=_int_env("ROOMCAST_HTTP_PORT", 3000),
                        help="demo page, admin API (/api), @connections (env ROOMCAST_HTTP_PORT)")
    parser.add_argument("--ws-port", type=int, default=_int_env("ROOMCAST_WS_PORT", 3001),
                        help="WebSocket gateway (env ROOMCAST_WS_PORT)")
    parser.add_argument("--moto-port", type=int, default=_int_env("ROOMCAST_MOTO_PORT", 0),
                        help="embedded moto server (env ROOMCAST_MOTO_PORT; default: a free port)")
    parser.add_argument("--receiver-port", type=int, default=_int_env("ROOMCAST_RECEIVER_PORT", 0),
                        help="reference webhook receiver (env ROOMCAST_RECEIVER_PORT)")
    parser.add_argument("--receiver-db", type=Path, default=os.environ.get("ROOMCAST_RECEIVER_DB") or None,
                        help="the receiver's SQLite file (default: a temporary file)")
    parser.add_argument("--no-receiver", action="store_true", help="do not start the reference receiver")
    parser.add_argument("--idle-timeout", type=float, default=_float_env("ROOMCAST_IDLE_TIMEOUT", 600),
                        help="seconds without a client frame before the gateway closes (API Gateway: 600)")
    parser.add_argument("--max-connection-seconds", type=float,
                        default=_float_env("ROOMCAST_MAX_CONNECTION_SECONDS", 7200),
                        help="maximum connection lifetime (API Gateway: 7200)")
    parser.add_argument("--max-concurrency", type=int, default=_int_env("ROOMCAST_MAX_CONCURRENCY", 4),
                        help="warm worker processes per function at most (default 4)")
    parser.add_argument("--admin-key", default=os.environ.get("ROOMCAST_ADMIN_KEY") or None,
                        help="the admin API key (default: random per run)")
    parser.add_argument("--region", default=os.environ.get("ROOMCAST_REGION", "us-east-1"))
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for every function (repeatable)")
    parser.add_argument("--quiet", action="store_true",
                        help="hide function logs (cold starts, timeouts and tracebacks still show)")
    parser.add_argument("--ready-file", type=Path, default=None,
                        help="write the URLs and key as JSON to this file once ready")
    args = parser.parse_args(argv)
    env: dict[str, str] = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env wants NAME=VALUE, got {item!r}")
        env[name] = value
    if not args.template.is_file():
        parser.error(f"no template at {args.template}")
    return Options(
        template=args.template,
        host=args.host,
        http_port=args.http_port,
        ws_port=args.ws_port,
        moto_port=args.moto_port,
        receiver_port=args.receiver_port,
        receiver=not args.no_receiver,
        receiver_db=args.receiver_db,
        region=args.region,
        idle_timeout=args.idle_timeout,
        max_lifetime=args.max_connection_seconds,
        max_concurrency=args.max_concurrency,
        admin_key=args.admin_key,
        env=env,
        function_logs=not args.quiet,
        ready_file=args.ready_file,
    )


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
