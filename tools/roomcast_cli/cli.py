"""`python -m roomcast_cli <command>`: redrive, replay, token, verify, schedule.

Results go to stdout (a token, a count), progress and diagnostics to stderr, so the
output composes in scripts. Exit codes: 0 success, 1 failure, 2 usage, 3 a move task
still running when --wait-timeout ran out.
Secrets and keys may come from the environment (ROOMCAST_ADMIN_KEY, ROOMCAST_JWT_SECRET,
ROOMCAST_WEBHOOK_SECRET) to keep them out of shell history; they are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any, TextIO

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_RUNNING = 0, 1, 2, 3
_REGION_IN_URL = re.compile(r"sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d)\.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m roomcast_cli",
        description="roomcast operator tool: DLQ redrive, webhook replay, tokens, signatures.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    redrive = commands.add_parser(
        "redrive",
        help="move the webhook DLQ's messages back to the source queue",
        description="Move DLQ messages back to their source queue: SQS StartMessageMoveTask "
        "where the service has it, else a receive/send/delete loop (send first, delete after).",
    )
    redrive.add_argument("--dlq-url", required=True, help="URL of the dead-letter queue")
    redrive.add_argument(
        "--source-url",
        help="queue to move into (default: the one queue whose RedrivePolicy names the DLQ)",
    )
    redrive.add_argument(
        "--max",
        type=int,
        dest="max_messages",
        help="move at most N messages (a move task cannot be bounded, so this uses the loop)",
    )
    redrive.add_argument(
        "--method",
        choices=("auto", "move-task", "loop"),
        default="auto",
        help="auto (default): a move task, or the loop where the service lacks it",
    )
    redrive.add_argument("--endpoint-url", help="SQS endpoint (the local runtime, an emulator)")
    redrive.add_argument("--region", help="AWS region (default: from the environment or the URL)")
    redrive.add_argument(
        "--wait-timeout",
        type=float,
        default=3600.0,
        help="seconds to follow a move task before leaving it running (default 3600)",
    )
    redrive.add_argument(
        "--poll-interval", type=float, default=2.0, help="seconds between move task polls"
    )
    redrive.add_argument(
        "--wait-seconds",
        type=int,
        default=2,
        choices=range(21),
        metavar="0-20",
        help="long-poll wait of each receive in the loop (default 2)",
    )
    redrive.add_argument(
        "--every", type=int, default=100, help="progress line every N messages (default 100)"
    )

    replay = commands.add_parser(
        "replay",
        help="re-send a room's webhook (same webhook-id)",
        description="POST /rooms/{room}/deliveries/{delivery}/replay; without --delivery the "
        "room's latest delivery is replayed.",
    )
    _admin_args(replay)
    replay.add_argument("--room", required=True, help="room id")
    replay.add_argument("--delivery", help="delivery id (default: the latest)")

    endpoints = commands.add_parser(
        "endpoints",
        help="list event endpoints, or one endpoint's deliveries",
        description="GET /endpoints; with --endpoint, GET /endpoints/{id}/deliveries (every page), "
        "one JSON line per batch with its attempts.",
    )
    _admin_args(endpoints)
    endpoints.add_argument("--endpoint", help="an endpoint id: list its deliveries")
    endpoints.add_argument("--status", choices=["pending", "retrying", "delivered", "disabled", "failed"],
                           help="only deliveries in this status (with --endpoint)")

    recover = commands.add_parser(
        "recover",
        help="re-send an endpoint's failed event batches since a time (same webhook-ids)",
        description="POST /endpoints/{id}/recover {since}.",
    )
    _admin_args(recover)
    recover.add_argument("--endpoint", required=True, help="endpoint id")
    recover.add_argument("--since", required=True, help="ISO 8601 time, e.g. 2026-01-31T12:00:00Z")

    token = commands.add_parser(
        "token",
        help="mint a connect token",
        description="Through the admin API (--api, --key) or offline with the JWT secret "
        "(--secret or ROOMCAST_JWT_SECRET). Prints only the token on stdout.",
    )
    token.add_argument("--api", help="admin API base URL")
    token.add_argument("--key", help="admin API key (default: env ROOMCAST_ADMIN_KEY)")
    token.add_argument("--secret", help="JWT secret, to mint offline (or env ROOMCAST_JWT_SECRET)")
    token.add_argument("--user", required=True, help="user id")
    token.add_argument("--name", help="display name (default: the user id)")
    token.add_argument("--rooms", help="comma-separated room ids the token is limited to")
    token.add_argument("--admin", action="store_true", help="room admin rights")
    token.add_argument("--ttl", type=int, help="lifetime in seconds")
    token.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout, seconds")

    verify = commands.add_parser(
        "verify",
        help="verify a webhook signature",
        description="Check webhook-signature over the exact body bytes. Exit 0 when valid.",
    )
    verify.add_argument(
        "--secret",
        action="append",
        default=[],
        help="whsec_ secret; repeat for several (or env ROOMCAST_WEBHOOK_SECRET, comma-separated)",
    )
    verify.add_argument("--id", required=True, dest="webhook_id", help="webhook-id header")
    verify.add_argument("--timestamp", required=True, help="webhook-timestamp header")
    verify.add_argument("--signature", required=True, help="webhook-signature header")
    verify.add_argument("--body-file", help="the raw body (default: read stdin)")
    verify.add_argument(
        "--tolerance",
        type=int,
        default=300,
        help="accepted clock skew in seconds; 0 skips the time check (default 300)",
    )
    schedule = commands.add_parser(
        "schedule",
        help="print a webhook retry schedule's timeline and its maxReceiveCount",
        description="Each attempt's time after the close, the receives each wait takes (SQS "
        "allows 12 hours of visibility from a receive) and the jobs queue's maxReceiveCount "
        "that the schedule needs. The table docs/webhooks.md shows.",
    )
    schedule.add_argument(
        "--schedule",
        help="seconds after each failed attempt, comma-separated (default: the production default)",
    )
    schedule.add_argument("--jitter", type=float, help="WEBHOOK_JITTER (default: the setting's default)")
    return parser


def _admin_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", required=True, help="admin API base URL")
    parser.add_argument("--key", help="admin API key (default: env ROOMCAST_ADMIN_KEY)")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout, seconds")


def _admin_key(args: argparse.Namespace) -> str | None:
    return args.key or os.environ.get("ROOMCAST_ADMIN_KEY") or None


def sqs_client(endpoint_url: str | None, region: str | None, queue_url: str) -> Any:
    import boto3

    if region is None and not (
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    ):
        # A queue URL names its region (https://sqs.<region>.amazonaws.com/...).
        found = _REGION_IN_URL.search(queue_url)
        region = found.group(1) if found else None
    return boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)


def cmd_redrive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from roomcast_cli.progress import Progress
    from roomcast_cli.redrive import RedriveError, redrive

    progress = Progress("redrive", stream=err, every=args.every)
    try:
        sqs = sqs_client(args.endpoint_url, args.region, args.dlq_url)
        result = redrive(
            sqs,
            args.dlq_url,
            source_url=args.source_url,
            max_messages=args.max_messages,
            method=args.method,
            progress=progress,
            poll_interval=args.poll_interval,
            wait_timeout=args.wait_timeout,
            wait_seconds=args.wait_seconds,
        )
    except RedriveError as exc:
        err.write(f"redrive: {exc}\n")
        return EXIT_FAIL
    except (ClientError, BotoCoreError, NotImplementedError) as exc:
        err.write(f"redrive: {type(exc).__name__}: {exc}\n")
        return EXIT_FAIL
    summary = {
        "method": result.method,
        "moved": result.moved,
        "failed": result.failed,
        "status": result.status,
    }
    if result.task_handle:
        summary["task_handle"] = result.task_handle
    if result.failure_reason:
        summary["failure_reason"] = result.failure_reason
    out.write(json.dumps(summary) + "\n")
    if result.status not in ("COMPLETED", "FAILED", "CANCELLED"):
        err.write("redrive: the move task is still running; follow it with ListMessageMoveTasks\n")
        return EXIT_RUNNING
    return EXIT_OK if result.status == "COMPLETED" and not result.failed else EXIT_FAIL


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from roomcast_cli.admin import AdminClient, AdminError

    key = _admin_key(args)
    if not key:
        err.write("replay: give --key or set ROOMCAST_ADMIN_KEY\n")
        return EXIT_USAGE
    try:
        client = AdminClient(args.api, key, timeout=args.timeout)
        delivery = args.delivery or client.latest_delivery(args.room)
        if not args.delivery:
            err.write(f"replay: latest delivery of {args.room} is {delivery}\n")
        result = client.replay(args.room, delivery)
    except AdminError as exc:
        err.write(f"replay: {exc}\n")
        return EXIT_FAIL
    out.write(json.dumps(result) + "\n")
    return EXIT_OK


def cmd_endpoints(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from roomcast_cli.admin import AdminClient, AdminError

    key = _admin_key(args)
    if not key:
        err.write(f"{args.command}: give --key or set ROOMCAST_ADMIN_KEY\n")
        return EXIT_USAGE
    if args.command == "endpoints" and args.status and not args.endpoint:
        err.write("endpoints: --status needs --endpoint\n")
        return EXIT_USAGE
    try:
        client = AdminClient(args.api, key, timeout=args.timeout)
        if args.command == "recover":
            out.write(json.dumps(client.recover(args.endpoint, args.since)) + "\n")
            return EXIT_OK
        rows = client.endpoint_deliveries(args.endpoint, args.status) if args.endpoint else client.endpoints()
    except AdminError as exc:
        err.write(f"{args.command}: {exc}\n")
        return EXIT_FAIL
    for row in rows:
        out.write(json.dumps(row) + "\n")
    return EXIT_OK


def cmd_token(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    rooms = [r.strip() for r in args.rooms.split(",") if r.strip()] if args.rooms else None
    if args.ttl is not None and args.ttl < 60:
        err.write("token: --ttl must be at least 60 seconds\n")
        return EXIT_USAGE
    if args.api:
        from roomcast_cli.admin import AdminClient, AdminError

        key = _admin_key(args)
        if not key:
            err.write("token: give --key or set ROOMCAST_ADMIN_KEY\n")
            return EXIT_USAGE
        try:
            answer = AdminClient(args.api, key, timeout=args.timeout).mint_token(
                args.user, args.name, rooms, args.admin, args.ttl
            )
        except AdminError as exc:
            err.write(f"token: {exc}\n")
            return EXIT_FAIL
        token, expires = answer["token"], answer.get("expires_at")
    else:
        secret = args.secret or os.environ.get("ROOMCAST_JWT_SECRET")
        if not secret:
            err.write("token: give --api and --key, or --secret (or ROOMCAST_JWT_SECRET)\n")
            return EXIT_USAGE
        from roomcast.auth import mint_token

        token, expires = mint_token(
            secret, args.user, args.name or args.user, args.ttl or 3600, rooms, args.admin
        )
    out.write(token + "\n")
    if expires is not None:
        err.write(f"token: expires_at={expires}\n")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: Any) -> int:
    from roomcast_cli.verify import verify_signature

    secrets = list(args.secret)
    if not secrets and os.environ.get("ROOMCAST_WEBHOOK_SECRET"):
        secrets = [s for s in re.split(r"[,\s]+", os.environ["ROOMCAST_WEBHOOK_SECRET"]) if s]
    if not secrets:
        err.write("verify: give --secret or set ROOMCAST_WEBHOOK_SECRET\n")
        return EXIT_USAGE
    if args.body_file:
        try:
            with open(args.body_file, "rb") as handle:
                body = handle.read()
        except OSError as exc:
            err.write(f"verify: cannot read {args.body_file}: {exc.strerror}\n")
            return EXIT_USAGE
    else:
        body = stdin.read()
        if isinstance(body, str):
            body = body.encode()
    verdict = verify_signature(
        secrets, args.webhook_id, args.timestamp, args.signature, body, tolerance=args.tolerance
    )
    if verdict.ok:
        out.write(f"OK: {verdict.reason}\n")
        return EXIT_OK
    err.write(f"INVALID: {verdict.reason}\n")
    return EXIT_FAIL


def cmd_schedule(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from roomcast.settings import Settings
    from roomcast.webhooks.schedule import parse_schedule, timeline_table

    defaults = Settings()
    try:
        steps = parse_schedule(args.schedule if args.schedule is not None else defaults.webhook_schedule)
    except ValueError as exc:
        err.write(f"schedule: {exc}\n")
        return EXIT_USAGE
    jitter = defaults.webhook_jitter if args.jitter is None else args.jitter
    if not 0 <= jitter <= 0.5:
        err.write("schedule: --jitter is a fraction between 0 and 0.5\n")
        return EXIT_USAGE
    out.write(timeline_table(steps, jitter) + "\n")
    return EXIT_OK


def main(
    argv: list[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: Any = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "redrive":
        return cmd_redrive(args, out, err)
    if args.command == "replay":
        return cmd_replay(args, out, err)
    if args.command == "token":
        return cmd_token(args, out, err)
    if args.command in ("endpoints", "recover"):
        return cmd_endpoints(args, out, err)
    if args.command == "schedule":
        return cmd_schedule(args, out, err)
    return cmd_verify(args, out, err, stdin if stdin is not None else sys.stdin.buffer)
