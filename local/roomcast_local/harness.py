"""Start `python -m roomcast_local` as a subprocess and talk to it: used by the e2e
fixtures and by bench/bench_local_e2e.py (never by the runtime itself)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roomcast_local.runtime import READY_PREFIX


def child_pids(pid: int) -> set[int]:
    """The processes whose parent is `pid` (the runtime's function workers), from /proc."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            # The field after the parenthesised command name (which may hold spaces) is the
            # state, then the parent pid.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found

ROOT = Path(__file__).resolve().parents[2]


class RuntimeFailed(RuntimeError):
    pass


@dataclass
class RunningRuntime:
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_line: str
    http_url: str  # the demo page's base, ending with /
    ws_url: str
    admin_api_url: str
    admin_key: str
    receiver_url: str | None
    moto_url: str
    stage: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.http_url.rstrip("/")

    @property
    def management_url(self) -> str:
        """What AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI is for the functions."""
        return f"{self.base_url}/{self.stage}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    # ------------------------------------------------------------------ HTTP
    def request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 30
    ) -> tuple[int, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
        if body is not None and not isinstance(body, bytes):
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback http only
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def admin(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.request(method, self.admin_api_url + path, body, {"X-Api-Key": self.admin_key})

    def create_room(self, name: str = "Room", room_id: str | None = None, **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"name": name, **fields}
        if room_id is not None:
            payload["room_id"] = room_id
        status, body = self.admin("POST", "/rooms", payload)
        if status != 201:
            raise RuntimeFailed(f"create room: {status} {body}")
        return body

    def token(self, user_id: str, name: str | None = None, **claims: Any) -> str:
        payload: dict[str, Any] = {"user_id": user_id, **claims}
        if name is not None:
            payload["name"] = name
        status, body = self.admin("POST", "/tokens", payload)
        if status != 201:
            raise RuntimeFailed(f"mint token: {status} {body}")
        return str(body["token"])

    def connections(self) -> list[dict[str, Any]]:
        """The gateway's live connections (local-only endpoint)."""
        return self.request("GET", f"{self.base_url}/local/connections")[1]["connections"]

    # ------------------------------------------------------------------ lifecycle
    def interrupt(self) -> None:
        """What Ctrl-C in a terminal does: SIGINT to the runtime's whole process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)


def _ready_value(line: str, key: str) -> str | None:
    match = re.search(rf"(?:^|\s){re.escape(key)}=(\S+)", line.split(" | ")[0])
    return match.group(1) if match else None


def start_runtime(
    *args: str,
    template: Path | None = None,
    log_path: Path | None = None,
    timeout: float = 90,
    env: dict[str, str] | None = None,
) -> RunningRuntime:
    """Start the runtime on free loopback ports; return once its ready line is printed."""
    if log_path is None:
        log_path = Path(tempfile.mkdtemp(prefix="roomcast-local-")) / "runtime.log"
    command = [sys.executable, "-m", "roomcast_local", "--http-port", "0", "--ws-port", "0", "--moto-port", "0"]
    command += ["--receiver-port", "0", "--template", str(template or ROOT / "template.yaml"), *args]
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("local", "layers/roomcast", "."))
    for name in [n for n in child_env if n.startswith("AWS_ENDPOINT_URL")]:
        del child_env[name]
    child_env["PYTHONUNBUFFERED"] = "1"
    with open(log_path, "wb") as log:
        # A session of its own, like a shell's foreground job: a test can send the
        # terminal's Ctrl-C to the whole group without reaching pytest.
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        found = [ln for ln in text.splitlines() if ln.startswith(READY_PREFIX)]
        if found:
            line = found[0]
            break
        if process.poll() is not None:
            raise RuntimeFailed(f"the runtime exited with {process.returncode}:\n{text[-4000:]}")
        time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeFailed(f"no ready line within {timeout}s:\n{log_path.read_text(errors='replace')[-4000:]}")
    http_url = _ready_value(line, "demo") or ""
    runtime = RunningRuntime(
        process=process,
        log_path=log_path,
        ready_line=line,
        http_url=http_url,
        ws_url=_ready_value(line, "ws") or "",
        admin_api_url=_ready_value(line, "admin_api") or "",
        admin_key=_ready_value(line, "admin_key") or "",
        receiver_url=_ready_value(line, "receiver"),
        moto_url="",
        stage="prod",
    )
    status, config = runtime.request("GET", runtime.base_url + "/config.json")
    if status != 200:
        runtime.stop()
        raise RuntimeFailed(f"/config.json answered {status}")
    runtime.config = config
    runtime.moto_url = config["moto_url"]
    runtime.stage = config["stage"]
    return runtime
