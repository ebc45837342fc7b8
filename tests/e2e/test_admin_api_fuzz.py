"""Schemathesis over docs/openapi.json against the local runtime: every default check
(no 5xx, status codes, content types, headers and bodies as documented, schema-valid
requests accepted and invalid ones refused, 405 with Allow for undeclared methods,
missing auth refused, use after free, resource availability), with positive and negative
data, the coverage phase's boundary values, fuzzing and stateful sequences over the links
Schemathesis infers (docs/admin-api.md, "Requests").

Bounded: the coverage phase is deterministic (about 1,700 requests), fuzzing and the
stateful phase take ROOMCAST_FUZZ_EXAMPLES (5) per operation; on this 2-core machine the
run takes about two minutes. The seed is fixed (ROOMCAST_FUZZ_SEED to change it), so a
failure replays; the summary line is printed (run with -s to see it).

Test data a schema cannot generate is supplied, not generated: the room, stream, user and
endpoint the path parameters name exist (so routes are reached beyond their 404), and
tests/e2e/schemathesis_hooks.py gives valid requests a reachable webhook URL and no
made-up cursor. The deprecated DELETE /rooms/{room_id} (a close: the room stays readable,
which a DELETE should not leave) is left out; POST /rooms/{room_id}/close is the same code.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = os.environ.get("ROOMCAST_FUZZ_EXAMPLES", "5")
SEED = os.environ.get("ROOMCAST_FUZZ_SEED", "20261207")

pytestmark = pytest.mark.timeout(600)


def _summary(output: str) -> dict[str, int]:
    found: dict[str, int] = {}
    if m := re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output):
        found["selected"], found["operations"], found["tested"] = (int(g) for g in m.groups())
    if m := re.search(r"Test cases:\s+(\d+) generated, (.*)", output):
        found["generated"] = int(m.group(1))
        rest = m.group(2)
        for key in ("passed", "skipped", "errored"):
            if n := re.search(rf"(\d+) {key}", rest):
                found[key] = int(n.group(1))
        if n := re.search(r"found (\d+) unique failure", rest):
            found["failures"] = int(n.group(1))
    return found


def test_schemathesis_finds_nothing_in_the_admin_api(runtime_factory, tmp_path):
    if not SCHEMATHESIS.exists():
        pytest.skip("schemathesis is not installed (requirements-dev.txt)")
    # A runtime of its own: the run closes rooms, broadcasts to every connection and makes
    # endpoints that receive every event, which no other test should meet.
    rt = runtime_factory()
    assert rt.receiver_url, "the reference receiver gives valid requests a webhook URL"
    rt.create_room("Fuzzed", room_id="fuzz-room")
    status, stream = rt.admin(
        "POST",
        "/rooms/fuzz-room/streams",
        {"sender": {"user_id": "bot", "name": "Bot", "kind": "bot"}},
    )
    assert status == 201, stream
    status, endpoint = rt.admin(
        "POST", "/endpoints", {"url": rt.receiver_url, "event_types": ["endpoint.test"]}
    )
    assert status == 201, endpoint
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        'room_id = "fuzz-room"\n'
        'user_id = "alice"\n'
        f'stream_id = "{stream["stream_id"]}"\n'
        f'endpoint_id = "{endpoint["endpoint_id"]}"\n'
    )
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        str(ROOT / "docs" / "openapi.json"),
        "--url",
        rt.admin_api_url,
        "--header",
        f"X-Api-Key: {rt.admin_key}",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "4",
        "--request-timeout",
        "30",
        "--exclude-deprecated",
        "--no-color",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
        "ROOMCAST_FUZZ_WEBHOOK_URL": rt.receiver_url,
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540
    )
    took = time.monotonic() - started
    output = run.stdout + run.stderr
    shown = shlex.join(c if not c.startswith("X-Api-Key") else "X-Api-Key: $KEY" for c in command)
    summary = _summary(output)
    print(f"\nschemathesis: {summary} in {took:.0f} s\n  {shown}")
    assert run.returncode == 0, output[-12000:]
    assert summary.get("failures", 0) == 0 and summary.get("errored", 0) == 0, output[-12000:]
    # Every documented operation but the deprecated spelling was run, with cases each.
    assert summary["tested"] == summary["selected"] == summary["operations"] - 1, summary
    assert summary["generated"] >= 1000 and summary["passed"] == summary["generated"], summary
