"""python -m examples.receiver --port 8088 --secret whsec_... --db receiver.sqlite3

Secrets come from --secret (repeatable) and/or RECEIVER_SECRETS (comma separated), so
they need not appear in the process list. They are never logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from examples.receiver.receiver import DEFAULT_MAX_BODY, make_receiver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.receiver",
        description="Reference receiver for roomcast room.closed webhooks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8088, help="port (default 8088)")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        help="whsec_ secret; repeat for rotation (also env RECEIVER_SECRETS, comma separated)",
    )
    parser.add_argument(
        "--db", default="receiver.sqlite3", help="SQLite file (default receiver.sqlite3)"
    )
    parser.add_argument(
        "--max-body", type=int, default=DEFAULT_MAX_BODY, help="largest body accepted, bytes"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    sources = [*args.secret]
    if os.environ.get("RECEIVER_SECRETS"):
        sources.append(os.environ["RECEIVER_SECRETS"])
    try:
        receiver = make_receiver(sources, args.db, args.max_body)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        receiver.bind(args.host, args.port)
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc}")
    log = logging.getLogger("roomcast.receiver")
    # The bound URL (not the flag) is logged: --port 0 picks a free port.
    log.info(
        "listening on %s (POST /webhooks, GET /rooms /rooms/{id} /stats /health); db=%s; %d secret(s)",
        receiver.url, args.db, receiver.verifier.count,
    )  # fmt: skip
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
