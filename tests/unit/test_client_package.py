"""client/ as an npm package: `npm pack` makes a tarball that installs into a scratch project,
imports under Node (ES module, `exports` subpaths) and type-checks with the types it ships.

The scratch project installs only the tarball (the package has no runtime dependencies,
so nothing is fetched); TypeScript comes from client/node_modules (`make client-deps`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CLIENT = ROOT / "client"
NPM = shutil.which("npm")
NODE = shutil.which("node")
TSC = CLIENT / "node_modules" / ".bin" / "tsc"

if not (NPM and NODE):
    pytestmark = pytest.mark.skip(
        reason="node and npm are needed to pack and install the client package"
    )


def _run(args: list[str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    # npm writes its cache and logs under HOME: keep them out of the scratch project's way.
    env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("pack")
    result = _run([str(NPM), "pack", "--json", "--pack-destination", str(out)], CLIENT)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)[0]
    return {
        "tarball": out / info["filename"],
        "files": {f["path"] for f in info["files"]},
        "info": info,
    }


@pytest.fixture(scope="module")
def project(packed: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    scratch = tmp_path_factory.mktemp("scratch-app")
    (scratch / "package.json").write_text(
        json.dumps({"name": "scratch-app", "private": True, "type": "module"})
    )
    # --offline: the tarball has no dependencies, so the install needs nothing from a registry.
    result = _run(
        [str(NPM), "install", "--offline", "--no-package-lock", str(packed["tarball"])], scratch
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return scratch


def test_the_tarball_holds_the_built_module_and_its_types_only(packed: dict[str, Any]) -> None:
    files = packed["files"]
    for needed in (
        "package.json",
        "README.md",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/calls.js",
        "dist/wire.d.ts",
    ):
        assert needed in files, needed
    assert not any(f.startswith(("src/", "demo/", "node_modules/")) for f in files), sorted(files)
    with tarfile.open(packed["tarball"]) as tar:
        manifest = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert manifest["type"] == "module"
    assert manifest["types"] == "./dist/index.d.ts"
    assert manifest["exports"]["."] == {"types": "./dist/index.d.ts", "default": "./dist/index.js"}
    assert "dependencies" not in manifest and "peerDependencies" not in manifest


def test_the_installed_package_imports_under_node(project: Path) -> None:
    script = """
        import { RoomcastClient, Room, RoomcastError, UnauthorizedError, PROTOCOL } from "@roomcast/client";
        import { CallManager, newCallId } from "@roomcast/client/calls";
        const opened = [];
        class NoSocket { constructor(url, protocols) { opened.push([url, protocols]); } close() {} }
        const client = new RoomcastClient({ url: "ws://127.0.0.1:9", token: "t", WebSocket: NoSocket, reconnect: false });
        const room = client.room("standup");
        console.log(JSON.stringify({
          same: client.room("standup") === room,
          isRoom: room instanceof Room,
          state: room.state,
          client: client.state,
          protocol: PROTOCOL,
          unauthorized: new UnauthorizedError("no", 401) instanceof RoomcastError,
          calls: client.calls instanceof CallManager,
          callId: /^[0-9a-f]{25}$/.test(newCallId()),
        }));
    """
    result = _run([str(NODE), "--input-type=module", "-e", script], project, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "same": True,
        "isRoom": True,
        "state": "left",
        "client": "idle",
        "protocol": "roomcast.v1",
        "unauthorized": True,
        "calls": True,
        "callId": True,
    }
    # A path the package does not export stays private.
    private = _run(
        [str(NODE), "--input-type=module", "-e", "import '@roomcast/client/dist/room.js'"],
        project,
        timeout=60,
    )
    assert private.returncode != 0 and "ERR_PACKAGE_PATH_NOT_EXPORTED" in private.stderr


def _typecheck(project: Path, source: str) -> subprocess.CompletedProcess[str]:
    if not TSC.exists():
        if os.environ.get("CI"):
            pytest.fail("client/node_modules is missing: `make test` runs `make client-deps` first")
        pytest.skip("TypeScript is not installed: run `make client-deps`")
    (project / "app.ts").write_text(source)
    (project / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "module": "nodenext",
                    "moduleResolution": "nodenext",
                    "target": "es2022",
                    "strict": True,
                    "noEmit": True,
                    "lib": ["es2022", "dom"],
                    "types": [],
                },
                "files": ["app.ts"],
            }
        )
    )
    return _run([str(TSC), "-p", str(project / "tsconfig.json")], project)


APP = """
import { RoomcastClient, type Room, type RoomState, type JoinedFrame } from "@roomcast/client";
import type { AckFrame, ErrorCode } from "@roomcast/client/wire";
import type { WebhookEvent } from "@roomcast/client/webhook-events";

const client = new RoomcastClient({ url: "wss://example.invalid/prod", getToken: async () => "t" });
const room: Room = client.room("standup");
room.on("message", ({ message, catchUp }) => console.log(message.text.toUpperCase(), catchUp));
room.on("state", ({ state, reason }) => console.log(state satisfies RoomState, reason?.code));
client.on("unauthorized", ({ status }) => console.log(status ?? 0));
async function main(): Promise<void> {
  const joined: JoinedFrame = await room.join({ historyLimit: 20 });
  const ack: AckFrame = await room.send("hi", { meta: { reply_to: joined.history.messages[0]?.id } });
  const code: ErrorCode = "banned";
  console.log(ack.duplicate, code);
}
function onWebhook(event: WebhookEvent): string {
  return event.type === "message.created" ? event.data.message.text : event.type;
}
void main; void onWebhook;
"""


def test_the_installed_types_check_an_app(project: Path) -> None:
    result = _typecheck(project, APP)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_installed_types_catch_a_mistake(project: Path) -> None:
    result = _typecheck(
        project, APP + '\nroom.send(42);\nroom.on("message", ({ message }) => message.txt);\n'
    )
    assert result.returncode != 0
    assert "app.ts(" in result.stdout and "TS2345" in result.stdout and "TS2551" in result.stdout, (
        result.stdout
    )
