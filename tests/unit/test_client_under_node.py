"""The browser client under Node (no browser): the syntax of every module the browser loads
(client/dist/ and the demo), test_chat_client.mjs (reconnect, catch-up, resend, presence,
heartbeats against a scripted in-memory server), test_room_states.mjs (the Room state
machines: kick, ban, close, refused rejoins, unauthorized) and test_calls_client.mjs
(CallManager against a fake client and a fake RTCPeerConnection). The real browser runs
are the e2e tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node") or "/usr/bin/node"
# Every module a browser loads: the built client and the demo page's scripts.
MODULES = sorted(
    [*(ROOT / "client" / "dist").glob("*.js"), *(ROOT / "client" / "demo").glob("*.js")]
)

pytestmark = pytest.mark.skipif(
    not Path(NODE).exists(), reason="node is not installed (needed to run the client's unit tests)"
)


def _check_module(source: str) -> subprocess.CompletedProcess[str]:
    # Through stdin as an ES module: `node --check file.js` parses a .js file outside a
    # "type": "module" package inconsistently (Node 20 accepts broken ESM silently).
    return subprocess.run(
        [NODE, "--input-type=module", "--check"],
        input=source,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_parses(module: Path) -> None:
    result = _check_module(module.read_text())
    assert result.returncode == 0, result.stderr


def test_the_syntax_check_can_fail() -> None:
    assert _check_module("export const a = 1;\nfunction (\n").returncode != 0


@pytest.mark.parametrize(
    ("suite", "passes"),
    [("test_chat_client.mjs", 18), ("test_room_states.mjs", 9), ("test_calls_client.mjs", 8)],
)
def test_client_logic_under_node(suite: str, passes: int | None) -> None:
    result = subprocess.run(
        [NODE, "--test", str(Path(__file__).parent / suite)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
    if passes is not None:
        assert f"# pass {passes}" in result.stdout
