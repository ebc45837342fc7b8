"""The local runtime stops on SIGINT or SIGTERM while clients are chatting: exit 0, every
socket closed with 1001, each socket's $disconnect invoked, no worker process left.

The time it takes is a figure (bench/bench_local_e2e.py --stop-under-load prints it),
not an assertion here; the wait below only keeps a hang from holding the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from roomcast_local.harness import child_pids, start_runtime
from tests.e2e.aio import run

pytestmark = pytest.mark.e2e
CLIENTS = 8
ROOMS = 2


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker pids from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_under_load_stops_everything_and_exits_zero(tmp_path: Path, signum: signal.Signals) -> None:
    runtime = start_runtime("--no-receiver", "--quiet", log_path=tmp_path / "runtime.log")
    try:
        rooms = [runtime.create_room(f"stop {i}")["room_id"] for i in range(ROOMS)]
        tokens = [runtime.token(f"stop-{i}") for i in range(CLIENTS)]

        async def chat_then_signal() -> list[int | None]:
            sockets: list[ClientConnection] = []
            for token in tokens:
                sockets.append(await connect(runtime.ws_url, subprotocols=["roomcast.v1", token], open_timeout=60))  # type: ignore[list-item]
            for n, ws in enumerate(sockets):
                await ws.send(json.dumps({"action": "join", "room_id": rooms[n % ROOMS], "request_id": "j"}))
                while json.loads(await asyncio.wait_for(ws.recv(), 60)).get("request_id") != "j":
                    pass

            async def talk(n: int, ws: ClientConnection) -> None:
                # Open loop: sends keep leaving whatever the answers, until the socket closes.
                for m in range(200):
                    try:
                        await ws.send(json.dumps({"action": "send", "room_id": rooms[n % ROOMS], "text": f"{n}-{m}"}))
                    except Exception:
                        return
                    await asyncio.sleep(0.2)

            async def drain(ws: ClientConnection) -> int | None:
                with contextlib.suppress(ConnectionClosed):
                    async for _ in ws:
                        pass
                return ws.close_code

            talkers = [asyncio.create_task(talk(n, ws)) for n, ws in enumerate(sockets)]
            readers = [asyncio.create_task(drain(ws)) for ws in sockets]
            await asyncio.sleep(1.5)  # messages in flight, workers busy
            if signum == signal.SIGINT:
                runtime.interrupt()  # Ctrl-C: the terminal's whole process group
            else:
                runtime.process.send_signal(signum)
            codes = await asyncio.wait_for(asyncio.gather(*readers), 30)
            for task in talkers:
                task.cancel()
            return codes

        workers = child_pids(runtime.process.pid)
        assert workers
        codes = run(chat_then_signal())
        assert runtime.process.wait(timeout=30) == 0
    finally:
        runtime.stop()
    log = runtime.log_text()
    assert codes == [1001] * CLIENTS
    summary = re.search(r"\$disconnect for (\d+) connection\(s\) open at stop: (\d+) invoked, (\d+) completed, (\d+) failed", log)
    assert summary, log[-3000:]
    open_at_stop, invoked, completed, failed = map(int, summary.groups())
    assert open_at_stop == invoked == CLIENTS  # each socket's $disconnect was invoked
    assert completed + failed == invoked  # and each one is accounted for
    assert "stopped (" in log and "Traceback" not in log
    assert [pid for pid in workers | child_pids(runtime.process.pid) if _alive(pid)] == []
