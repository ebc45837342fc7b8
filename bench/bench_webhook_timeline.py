"""Webhook retries as an operator sees them: a schedule replayed against moto's SQS with
an injected clock (days pass in a second), and one attempt against a receiver that drips
its answer a byte a second.

Prints, per attempt, its time after the close as measured (the clock when the receiver
saw the request) next to the schedule's plan, the ratio measured / planned of the whole
run, the receives used and where the job ended; then the dripping attempt's duration
against the attempt deadline (ratio). Visibility refusals are counted (must be 0).

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_webhook_timeline.py \
        [--schedule 3,86400] [--jitter 0] [--deadline 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ run as a script

from bench._common import FAKE_AWS_ENV, _patched_environ


def replay(schedule_text: str, jitter: float) -> dict:
    import pytest

    from roomcast.webhooks import schedule
    from tests.conftest import LambdaContext, load_handler
    from tests.integration import webhook_support as ws

    steps = schedule.parse_schedule(schedule_text)
    monkeypatch = pytest.MonkeyPatch()
    invoke = lambda function, event: load_handler(function).lambda_handler(event, LambdaContext())  # noqa: E731
    refusals = 0
    try:
        with (
            ws.injected_clock(monkeypatch) as fake,
            ws.provisioned_stack(monkeypatch, schedule_text, WEBHOOK_JITTER=str(jitter)) as stack,
        ):
            from roomcast import queue

            real = queue.change_visibility
            waits: list[int] = []

            def spy(url: str, handle: str, seconds: int) -> None:
                nonlocal refusals
                try:
                    real(url, handle, seconds)
                except Exception:
                    refusals += 1
                    raise
                waits.append(seconds)

            monkeypatch.setattr(queue, "change_visibility", spy)
            with ws.ScriptedReceiver(default=ws.Reply(503, b"down")) as receiver:
                ws.create_room(invoke, "bench-timeline", receiver.url)
                ws.admin(invoke, "DELETE", "/rooms/bench-timeline")
                closed_at = fake.now()
                driver = ws.QueueDriver(stack, invoke)
                receives = 0
                while receives < 1000:
                    messages = driver.receive()
                    if not messages:
                        break
                    receives += 1
                    if not driver.run(messages):
                        break
                    fake.advance(waits[-1] + 0.5)
                ended = ws.admin(invoke, "GET", "/rooms/bench-timeline/deliveries")[1]["deliveries"][0]["status"]
                attempts = [r.at - closed_at for r in receiver.requests]
                dlq = driver.depth(driver.dlq_url)
    finally:
        monkeypatch.undo()
    return {"steps": steps, "attempts": attempts, "receives": receives, "refusals": refusals,
            "status": ended, "dlq": dlq, "plan": schedule.max_receive_count(steps)}


def drip(deadline: float) -> float:
    """Seconds one attempt takes against a receiver that answers one byte a second."""
    from roomcast.webhooks import sender, ssrf
    from tests.integration.test_webhook_deadline import slow_server

    with slow_server(drip=True) as (url, _closed):
        target = ssrf.check_url(url, allow_loopback=True)
        started = time.monotonic()
        result = sender.post(target, b"{}", {}, 3.0, 15.0, 1024, deadline_seconds=deadline)
        took = time.monotonic() - started
    print(f"  error {result.error}, latency {result.latency_ms} ms")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedule", default="3,86400")
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--deadline", type=float, default=5.0, help="WEBHOOK_ATTEMPT_TIMEOUT for the drip")
    args = parser.parse_args(argv)
    from roomcast.webhooks.schedule import human

    with _patched_environ(FAKE_AWS_ENV):
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "roomcast")
        os.environ["POWERTOOLS_DEV"] = "false"
        result = replay(args.schedule, args.jitter)
    planned = [0.0]
    for step in result["steps"]:
        planned.append(planned[-1] + step)
    print(f"schedule {args.schedule} (jitter {args.jitter:g}): attempt, measured after the close, planned")
    for number, (measured, plan) in enumerate(zip(result["attempts"], planned, strict=False), start=1):
        print(f"  {number:>3}  {measured:>12.1f} s  {plan:>10.0f} s  ({human(measured)})")
    ratio = result["attempts"][-1] / planned[-1] if planned[-1] else 1.0
    print(f"attempts {len(result['attempts'])} / planned {len(planned)}; last attempt measured / planned = {ratio:.4f}")
    print(f"receives {result['receives']} / maxReceiveCount {result['plan']}; visibility refusals {result['refusals']}; "
          f"status {result['status']}; DLQ depth {result['dlq']}")
    print(f"dripping receiver (1 byte/s), deadline {args.deadline:g} s:")
    took = drip(args.deadline)
    print(f"  attempt took {took:.2f} s; took / deadline = {took / args.deadline:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
