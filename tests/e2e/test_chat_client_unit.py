"""The browser client's logic under Node (no npm): syntax of every client module, and
test_chat_client.mjs (reconnect, catch-up, resend, presence, heartbeats) against a
scripted in-memory server. No browser, no runtime: these run in `make test-fast` too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node") or "/usr/bin/node"
# Every browser module under client/ (the client, the call API, the demo page scripts).
MODULES = sorted((ROOT / "client").rglob("*.js"))

pytestmark = pytest.mark.skipif(
    not Path(NODE).exists(), reason="node is not installed (needed to run the client's unit tests)"
)


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_parses(module: Path) -> None:
    assert module.exists(), module
    result = subprocess.run(
        [NODE, "--check", str(module)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


def test_client_logic_under_node() -> None:
    result = subprocess.run(
        [NODE, "--test", str(ROOT / "tests" / "e2e" / "test_chat_client.mjs")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
