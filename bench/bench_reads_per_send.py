"""Reads per `send` vs. total connections: roomcast's Query vs. a scan-based broadcast.

roomcast's `send` (the real roomcast.logic.chat.send, with a stub gateway) reads the
room's members with one Query on the room's partition. The scan-based broadcast is what
the AWS WebSocket chat sample does: Scan every connection in a connections table and keep
those of the room. Connections are spread over rooms of a fixed size, so the work of one
message should stay flat for ours and grow with the whole system for the scan.

"Reads" are DynamoDB items read: ScannedCount of each Query/Scan page (items evaluated,
before any filter - what read capacity is charged for), plus GetItem hits.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_reads_per_send.py
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from bench._common import CountingDynamoDB, batch_put, moto_stack, print_table

SAMPLE_TABLE = "chat-sample-connections"


class StubManagementApi:
    """PostToConnection that always succeeds, with no network."""

    def __init__(self) -> None:
        self.posts = 0

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        self.posts += 1
        return {}


def room_id_of(index: int) -> str:
    return f"room-{index:05d}"


def connection_id_of(index: int) -> str:
    return f"conn{index:07d}="


def seed(client: Any, table: str, start: int, stop: int, room_size: int) -> None:
    """Connections start..stop-1 (and their rooms) in roomcast's table and the sample's."""
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item
    from roomcast.models.records import MemberRecord, Room

    ours: list[dict[str, Any]] = []
    sample: list[dict[str, Any]] = []
    for index in range(start, stop):
        room_id = room_id_of(index // room_size)
        connection_id = connection_id_of(index)
        if index % room_size == 0:
            room = Room(room_id=room_id, name=room_id, created_at=1_700_000_000_000 + index)
            item = room.model_dump(exclude={"stats"}, exclude_none=True)
            item.update(room.stats.model_dump())
            item.update(
                pk=keys.room_pk(room_id),
                sk=keys.META,
                gsi1pk=keys.ROOMS_GSI_PK,
                gsi1sk=f"{room.created_at:013x}#{room_id}",
                entity="room",
            )
            ours.append(to_item(item))
        member = MemberRecord(
            room_id=room_id,
            connection_id=connection_id,
            user_id=f"user-{index}",
            name=f"User {index}",
            joined_at=1_700_000_000_000 + index,
            session_id=f"{1_700_000_000_000 + index:013x}000000000000",
        )
        ours.append(
            to_item(
                {
                    **member.model_dump(),
                    "pk": keys.room_pk(room_id),
                    "sk": keys.member_sk(connection_id),
                }
            )
        )
        # The connection's own record and its room link, so the table holds what a live
        # system holds (they are outside the room's partition, so a Query never reads them).
        ours.append(
            to_item(
                {
                    "pk": keys.conn_pk(connection_id),
                    "sk": keys.META,
                    "gsi1pk": keys.user_gsi_pk(member.user_id),
                    "gsi1sk": f"CONN#{connection_id}",
                    "connection_id": connection_id,
                    "user_id": member.user_id,
                    "name": member.name,
                    "connected_at": member.joined_at,
                    "expires_at": 2_000_000_000,
                    "ttl": 2_000_000_000,
                }
            )
        )
        ours.append(
            to_item(
                {
                    "pk": keys.conn_pk(connection_id),
                    "sk": keys.conn_room_sk(room_id),
                    "room_id": room_id,
                    "ttl": 2_000_000_000,
                }
            )
        )
        sample.append(to_item({"connectionId": connection_id, "roomId": room_id}))
    batch_put(client, table, ours)
    batch_put(client, SAMPLE_TABLE, sample)


def scan_broadcast(
    client: Any, room_id: str, sender: str, gateway: Any, payload: dict[str, Any]
) -> int:
    """The scan-based broadcast: read every connection, keep the room's, post to them."""
    targets: list[str] = []
    params: dict[str, Any] = {
        "TableName": SAMPLE_TABLE,
        "FilterExpression": "roomId = :r",
        "ExpressionAttributeValues": {":r": {"S": room_id}},
    }
    while True:
        response = client.scan(**params)
        targets.extend(i["connectionId"]["S"] for i in response.get("Items", []))
        if not response.get("LastEvaluatedKey"):
            break
        params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return gateway.broadcast((t for t in targets if t != sender), payload).delivered


def run(
    totals: list[int], room_size: int, sends: int
) -> list[tuple[int, float, float, float, int, int]]:
    from roomcast.dal.dynamo import dynamodb_client
    from roomcast.dal.fanout import FanoutStore
    from roomcast.dal.store import RoomStore
    from roomcast.gateway import Gateway
    from roomcast.logic import chat
    from roomcast.logic.context import Caller
    from roomcast.models.frames import SendFrame
    from roomcast.models.records import Identity
    from roomcast.settings import get_settings
    from roomcast.wiring import services as wired

    rows = []
    with moto_stack():
        raw = dynamodb_client()
        raw.create_table(
            TableName=SAMPLE_TABLE,
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table = get_settings().table_name
        counting = CountingDynamoDB(raw)
        stub = StubManagementApi()
        services = dataclasses.replace(
            wired(),
            # Both readers of the room count: the store, and the fan-out's range reads.
            store=RoomStore(table, client=counting),
            fanout=FanoutStore(table, counting),
            gateway=Gateway(None, client=stub),
        )
        room_id = room_id_of(0)
        sender = Caller(
            connection_id=connection_id_of(0),
            identity=Identity(user_id="user-0", name="User 0"),
        )
        seeded = 0
        for total in sorted(totals):
            seed(raw, table, seeded, total, room_size)
            seeded = total

            counting.reset()
            stub.posts = 0
            for n in range(sends):
                frame = SendFrame(action="send", room_id=room_id, text=f"hello {n}")
                ack = chat.send(services, sender, frame)
                assert ack.delivered == room_size - 1, ack
            ours = counting.items_read / sends
            ours_posts = stub.posts

            counting.reset()
            stub.posts = 0
            for n in range(sends):
                payload = {"type": "message", "text": f"hello {n}"}
                delivered = scan_broadcast(
                    counting, room_id, sender.connection_id, services.gateway, payload
                )
                assert delivered == room_size - 1, delivered
            scan = counting.items_read / sends
            assert stub.posts == ours_posts, (stub.posts, ours_posts)
            rows.append((total, ours, scan, scan / ours, total // room_size, ours_posts // sends))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--totals", default="100,1000,5000", help="total connections, comma-separated"
    )
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--sends", type=int, default=5, help="sends measured per total")
    args = parser.parse_args(argv)
    totals = [int(t) for t in args.totals.split(",")]
    rows = run(totals, args.room_size, args.sends)
    print(
        f"reads (DynamoDB items read) per send; rooms of {args.room_size}; {args.sends} sends each"
    )
    print_table(
        ["connections", "rooms", "posts/send", "reads/send ours", "reads/send scan", "scan / ours"],
        [(t, rooms, posts, ours, scan, ratio) for t, ours, scan, ratio, rooms, posts in rows],
    )
    first, last = rows[0], rows[-1]
    print(
        f"ours: {first[1]:.0f} -> {last[1]:.0f} reads/send while connections grew "
        f"{last[0] / first[0]:.0f}x; scan: {first[2]:.0f} -> {last[2]:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
