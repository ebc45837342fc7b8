"""roomcast_cli without network: verify, offline tokens, progress, move-task detection."""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from standardwebhooks import Webhook

from roomcast.auth import verify_token
from roomcast.errors import Unauthorized
from roomcast_cli.cli import main
from roomcast_cli.progress import Progress
from roomcast_cli.redrive import move_task_unsupported
from roomcast_cli.verify import verify_signature

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
OTHER = "whsec_" + base64.b64encode(os.urandom(32)).decode()
BODY = b'{"type":"room.closed","timestamp":"2026-11-22T04:00:00.000Z","data":{"room_id":"r1"}}'
JWT_SECRET = "cli-test-jwt-secret-0123456789abcdef0123456789"


def signed(
    secrets: list[str], webhook_id: str = "dlv-1.1", body: bytes = BODY, at: datetime | None = None
) -> tuple[str, str]:
    """(timestamp, signature header) made by the standardwebhooks package's own signer."""
    when = at or datetime.now(tz=UTC)
    header = " ".join(Webhook(s).sign(webhook_id, when, body.decode()) for s in secrets)
    return str(int(when.timestamp())), header


def run(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err, stdin=io.BytesIO(stdin))
    return code, out.getvalue(), err.getvalue()


def verify_argv(timestamp: str, signature: str, *secrets: str) -> list[str]:
    argv = ["verify", "--id", "dlv-1.1", "--timestamp", timestamp, "--signature", signature]
    for secret in secrets:
        argv += ["--secret", secret]
    return argv


# -- verify -----------------------------------------------------------------------------


def test_verify_accepts_a_standardwebhooks_signature_from_stdin() -> None:
    timestamp, signature = signed([SECRET])
    code, out, err = run(verify_argv(timestamp, signature, SECRET), stdin=BODY)
    assert (code, err) == (0, "")
    assert out.startswith("OK:")


def test_verify_reads_the_body_file(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_bytes(BODY)
    timestamp, signature = signed([SECRET])
    code, _, _ = run([*verify_argv(timestamp, signature, SECRET), "--body-file", str(path)])
    assert code == 0


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered body", "no signature matches"),
        ("wrong secret", "no signature matches"),
        ("trailing newline", "no signature matches"),
        ("stale", "s old"),
        ("future", "in the future"),
        ("malformed header", "no well-formed v1"),
        ("bad timestamp", "not an integer"),
    ],
)
def test_verify_refuses_with_a_clear_reason(case: str, reason: str) -> None:
    body = BODY
    timestamp, signature = signed([SECRET])
    secret = SECRET
    if case == "tampered body":
        body = BODY.replace(b"r1", b"r2")
    elif case == "wrong secret":
        secret = OTHER
    elif case == "trailing newline":
        body = BODY + b"\n"
    elif case == "stale":
        timestamp, signature = signed([SECRET], at=datetime.now(tz=UTC) - timedelta(minutes=6))
    elif case == "future":
        timestamp, signature = signed([SECRET], at=datetime.now(tz=UTC) + timedelta(minutes=6))
    elif case == "malformed header":
        signature = "v1 garbage v2,abc"
    else:
        timestamp = "yesterday"
    code, out, err = run(verify_argv(timestamp, signature, secret), stdin=body)
    assert code == 1
    assert out == ""
    assert err.startswith("INVALID:") and reason in err
    assert SECRET not in err and OTHER not in err


def test_verify_tolerance_zero_checks_an_old_logged_delivery() -> None:
    timestamp, signature = signed([SECRET], at=datetime.now(tz=UTC) - timedelta(days=3))
    assert run(verify_argv(timestamp, signature, SECRET), stdin=BODY)[0] == 1
    assert run([*verify_argv(timestamp, signature, SECRET), "--tolerance", "0"], stdin=BODY)[0] == 0


def test_verify_rotation_any_secret_matches_any_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    timestamp, dual = signed([OTHER, SECRET])
    verdict = verify_signature([SECRET], "dlv-1.1", timestamp, dual, BODY)
    assert verdict.ok and verdict.secret_index == 0
    _, only_other = signed([OTHER])
    verdict = verify_signature([SECRET, OTHER], "dlv-1.1", timestamp, only_other, BODY)
    assert verdict.ok and verdict.secret_index == 1
    # Secrets from the environment, comma-separated.
    monkeypatch.setenv("ROOMCAST_WEBHOOK_SECRET", f"{OTHER},{SECRET}")
    assert run(verify_argv(timestamp, only_other), stdin=BODY)[0] == 0


def test_verify_matches_standardwebhooks_in_both_directions() -> None:
    """Our verdict and the library's agree, for valid and for forged signatures."""
    for webhook_id, body in [("a.1", BODY), ("b.2", b"{}"), ("c.3", '{"t":"caf\u00e9"}'.encode())]:
        timestamp, signature = signed([SECRET], webhook_id=webhook_id, body=body)
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature,
        }
        Webhook(SECRET).verify(body, headers)  # raises if the library disagrees
        assert verify_signature([SECRET], webhook_id, timestamp, signature, body).ok
        forged = signature[:-6] + ("AAAAA=" if not signature.endswith("AAAAA=") else "BBBBB=")
        assert not verify_signature([SECRET], webhook_id, timestamp, forged, body).ok


def test_verify_without_a_secret_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMCAST_WEBHOOK_SECRET", raising=False)
    timestamp, signature = signed([SECRET])
    code, _, err = run(verify_argv(timestamp, signature), stdin=BODY)
    assert code == 2 and "--secret" in err


# -- token (offline) --------------------------------------------------------------------


def test_offline_token_verifies_with_roomcast_auth() -> None:
    code, out, err = run(
        [
            "token",
            "--secret",
            JWT_SECRET,
            "--user",
            "alice",
            "--name",
            "Alice",
            "--rooms",
            "r1,r2",
            "--admin",
            "--ttl",
            "600",
        ]
    )
    assert code == 0, err
    token = out.strip()
    assert "\n" not in token and token.count(".") == 2
    identity = verify_token(JWT_SECRET, token)
    assert identity.user_id == "alice"
    assert identity.name == "Alice"
    assert identity.rooms == ["r1", "r2"]
    assert identity.admin is True
    assert "expires_at=" in err
    assert JWT_SECRET not in out + err
    with pytest.raises(Unauthorized):
        verify_token("another-secret-0123456789abcdef0123456789", token)


def test_offline_token_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOMCAST_JWT_SECRET", JWT_SECRET)
    code, out, _ = run(["token", "--user", "bob"])
    assert code == 0
    identity = verify_token(JWT_SECRET, out.strip())
    assert (identity.user_id, identity.name, identity.admin, identity.rooms) == (
        "bob",
        "bob",
        False,
        None,
    )


def test_token_without_api_or_secret_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMCAST_JWT_SECRET", raising=False)
    code, out, err = run(["token", "--user", "bob"])
    assert (code, out) == (2, "")
    assert "--secret" in err


# -- progress ---------------------------------------------------------------------------


def test_progress_writes_a_line_every_n_items_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress("redrive", stream=stream, every=10, interval=3600)
    for _ in range(25):
        progress.add(1)
    progress.done(" moved")
    assert stream.getvalue().splitlines() == ["redrive: 10", "redrive: 20", "redrive: 25 moved"]


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress("redrive", stream=stream, total=3)
    for _ in range(3):
        progress.add(1)
    progress.done()
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.endswith("redrive: 3/3\x1b[K\n")


# -- move task detection ------------------------------------------------------------------


def client_error(code: str, status: int = 400, content_type: str = "text/xml") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "m"},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "HTTPHeaders": {"content-type": content_type},
            },
        },
        "StartMessageMoveTask",
    )


@pytest.mark.parametrize(
    ("exc", "unsupported"),
    [
        (NotImplementedError("The start_message_move_task action has not been implemented"), True),
        (client_error("UnsupportedOperation"), True),
        (client_error("AWS.SimpleQueueService.UnsupportedOperation"), True),
        (client_error("InvalidAction"), True),
        (client_error("UnknownOperationException"), True),
        (client_error("500", 500, "text/html; charset=utf-8"), True),  # moto server
        (client_error("AccessDenied", 403), False),
        (client_error("InternalError", 500, "application/x-amz-json-1.0"), False),
        (client_error("500", 500, "application/json"), False),
        (client_error("RequestThrottled"), False),
        (ValueError("x"), False),
    ],
)
def test_only_a_missing_action_counts_as_unsupported(exc: BaseException, unsupported: bool) -> None:
    assert (move_task_unsupported(exc) is not None) is unsupported


def test_the_help_names_every_command() -> None:
    code, _, _ = run(["--help"])
    assert code == 0
    code, _, _ = run(["nope"])
    assert code == 2


def test_python_dash_m_runs_the_tool(tmp_path: Path) -> None:
    """`python -m roomcast_cli` as an operator runs it: the package on PYTHONPATH, body on stdin."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    timestamp, signature = signed([SECRET])
    env = {
        **os.environ,
        "PYTHONPATH": f"{root / 'tools'}:{root / 'layers' / 'roomcast'}",
        "ROOMCAST_WEBHOOK_SECRET": SECRET,
    }
    argv = [sys.executable, "-m", "roomcast_cli", "verify", "--id", "dlv-1.1"]
    argv += ["--timestamp", timestamp, "--signature", signature]
    good = subprocess.run(argv, input=BODY, capture_output=True, env=env, cwd=tmp_path, timeout=60)
    assert (good.returncode, good.stdout.startswith(b"OK:")) == (0, True), good.stderr
    bad = subprocess.run(
        argv, input=BODY + b"x", capture_output=True, env=env, cwd=tmp_path, timeout=60
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith(b"INVALID:")
