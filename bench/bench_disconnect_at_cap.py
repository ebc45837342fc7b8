"""$disconnect of a connection at the rooms-per-connection cap vs. the function's timeout.

One connection joins MAX_ROOMS_PER_CONNECTION rooms (each with one other member, so every
leave reads the room and announces member.left); then the real
roomcast.logic.presence.drop_connection runs, as $disconnect does, with a stub gateway
(posts succeed with no network). Prints the wall time against DisconnectFunction's Timeout
from template.yaml, once with the leaves side by side (DISCONNECT_WORKERS) and once one
room at a time, and checks that no room still counts the connection afterwards.

AWS is moto in-process (one request at a time behind a lock, as the tests run it):
a conservative stand-in, since moto serialises what DynamoDB would run in parallel.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from bench._common import TEMPLATE, moto_stack, print_table


class StubManagementApi:
    def __init__(self) -> None:
        self.posts = 0

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        self.posts += 1
        return {}

    def delete_connection(self, ConnectionId: str) -> dict[str, Any]:
        return {}


def _timeout_seconds() -> float:
    from roomcast_local.cfn import load_template

    props = load_template(TEMPLATE)["Resources"]["DisconnectFunction"]["Properties"]
    return float(props["Timeout"])


def run(rooms: int, workers_options: list[int]) -> list[tuple[int, int, float, float, int]]:
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    unlocked = BotocoreStubber.process_request

    def one_at_a_time(self: Any, request: Any) -> Any:
        with lock:
            return unlocked(self, request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    rows = []
    try:
        for workers in workers_options:
            with moto_stack():
                import os

                os.environ["MAX_ROOMS_PER_CONNECTION"] = str(rooms)
                import dataclasses

                from roomcast.gateway import Gateway
                from roomcast.logic import chat, presence
                from roomcast.logic import rooms as rooms_logic
                from roomcast.logic.context import Caller
                from roomcast.models.admin import CreateRoomRequest
                from roomcast.models.frames import JoinFrame
                from roomcast.models.records import Identity
                from roomcast.settings import reset_settings
                from roomcast.wiring import services as wired

                reset_settings()
                stub = StubManagementApi()
                services = dataclasses.replace(wired(), gateway=Gateway(None, client=stub))
                store = services.store
                target = Caller("conn-target", Identity(user_id="target", name="Target"))
                for index in range(rooms):
                    room_id = f"room-{index}"
                    rooms_logic.create_room(services, CreateRoomRequest(room_id=room_id, name=room_id))
                    other = Caller(f"conn-other-{index}", Identity(user_id=f"other-{index}", name="Other"))
                    chat.join(services, other, JoinFrame(action="join", room_id=room_id, history_limit=0))
                    chat.join(services, target, JoinFrame(action="join", room_id=room_id, history_limit=0))
                stub.posts = 0
                presence.DISCONNECT_WORKERS, saved = workers, presence.DISCONNECT_WORKERS
                try:
                    started = time.perf_counter()
                    ended = presence.drop_connection(services, "conn-target", reason="disconnect")
                    elapsed = time.perf_counter() - started
                finally:
                    presence.DISCONNECT_WORKERS = saved
                still_counted = sum(
                    store.require_room(f"room-{i}").stats.current_connections != 1 for i in range(rooms)
                )
                assert ended == rooms and still_counted == 0, (ended, still_counted)
                rows.append((rooms, workers, elapsed, elapsed / _timeout_seconds(), stub.posts))
    finally:
        BotocoreStubber.process_request = unlocked  # type: ignore[method-assign]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=100, help="rooms joined (the cap; default 100)")
    parser.add_argument("--workers", default="16,1", help="DISCONNECT_WORKERS to compare")
    args = parser.parse_args(argv)
    rows = run(args.rooms, [int(w) for w in args.workers.split(",")])
    timeout = _timeout_seconds()
    print(f"$disconnect at the cap: {args.rooms} rooms, each with one other member; timeout {timeout:.0f} s")
    print_table(
        ["rooms", "workers", "seconds", "of timeout", "member.left posts"],
        [(r, w, f"{s:.2f}", f"{f:.3f}", p) for r, w, s, f, p in rows],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
