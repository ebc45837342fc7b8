"""client/calls.js under Node (no npm, no browser): syntax of the call modules, and
test_calls_client.mjs (CallManager against a fake client and a fake RTCPeerConnection).
The real WebRTC call is test_call_e2e.py; these run in `make test-fast` too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node") or "/usr/bin/node"
MODULES = [ROOT / "client" / "calls.js", ROOT / "client" / "demo" / "call-ui.js"]

pytestmark = pytest.mark.skipif(
    not Path(NODE).exists(), reason="node is not installed (needed to run the client's unit tests)"
)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_call_module_parses(module: Path) -> None:
    result = subprocess.run(
        [NODE, "--check", str(module)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


def test_call_manager_under_node() -> None:
    result = subprocess.run(
        [NODE, "--test", str(ROOT / "tests" / "e2e" / "test_calls_client.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 8" in result.stdout
