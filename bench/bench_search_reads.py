"""Reads per search vs. the room's history: a time range by key vs. filtering the whole room.

roomcast's search (the real roomcast.logic.moderation.search) reads the messages of the
asked time range by key, at most SEARCH_MAX_SCANNED (500) per call, and filters the
keyword in what it read. The naive search reads every message of the room and filters
(a Query of the whole MSG# prefix). The range is the same fraction of the history for
every room size, so ours grows with the range and is bounded per call; the naive one
grows with the room.

"Reads" are DynamoDB items read (ScannedCount: what read capacity is charged for).

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_search_reads.py
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from bench._common import CountingDynamoDB, batch_put, moto_stack, print_table

BASE_MS = 1_790_000_000_000
ROOM = "searched"


def seed(client: Any, table: str, messages: int) -> None:
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item
    from roomcast.models.records import Room

    room = Room(room_id=ROOM, name=ROOM, created_at=BASE_MS)
    meta = room.model_dump(exclude={"stats"}, exclude_none=True)
    meta.update(room.stats.model_dump(), pk=keys.room_pk(ROOM), sk=keys.META)
    items = [to_item(meta)]
    for index in range(messages):
        # One message a second; every 10th mentions the keyword.
        message_id = f"{BASE_MS + index * 1000:013x}{index:012x}"
        text = f"deploy note {index}" if index % 10 == 0 else f"chatter {index}"
        items.append(to_item({
            "pk": keys.room_pk(ROOM), "sk": keys.message_sk(message_id), "room_id": ROOM,
            "message_id": message_id, "user_id": "u", "name": "U", "text": text, "sent_at": BASE_MS + index * 1000,
        }))
    batch_put(client, table, items)


def run(sizes: list[int], window: float) -> list[tuple[int, int, float, int, int, int, float]]:
    from roomcast.dal.dynamo import dynamodb_client, values
    from roomcast.dal.store import RoomStore
    from roomcast.ids import iso
    from roomcast.logic import moderation
    from roomcast.settings import get_settings
    from roomcast.wiring import services as wired

    rows = []
    for size in sizes:
        with moto_stack():
            raw = dynamodb_client()
            table = get_settings().table_name
            seed(raw, table, size)
            counting = CountingDynamoDB(raw)
            services = dataclasses.replace(wired(), store=RoomStore(table, client=counting))
            # The last `window` of the history: the same fraction for every size.
            first = int(size * (1 - window))
            low, high = iso(BASE_MS + first * 1000), iso(BASE_MS + (size - 1) * 1000)
            counting.reset()
            found, calls, cursor = 0, 0, None
            while True:
                page = moderation.search(services, ROOM, "deploy", low, high, None, 100, cursor)
                assert page.scanned <= moderation.SEARCH_MAX_SCANNED
                found += len(page.messages)
                calls += 1
                cursor = page.next_cursor
                if not cursor:
                    break
            ours = counting.items_read - calls  # the room reads are not the search's
            counting.reset()
            naive_found, params = 0, {
                "TableName": table,
                "KeyConditionExpression": "pk = :p AND begins_with(sk, :m)",
                "ExpressionAttributeValues": values(p=f"ROOM#{ROOM}", m="MSG#"),
            }
            while True:
                response = counting.query(**params)
                naive_found += sum(
                    1 for i in response.get("Items", [])
                    if low <= iso(int(i["sent_at"]["N"])) <= high and "deploy" in i["text"]["S"]
                )
                if not response.get("LastEvaluatedKey"):
                    break
                params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            naive = counting.items_read
            assert found == naive_found, (found, naive_found)
            rows.append((size, found, ours / calls, calls, ours, naive, naive / ours))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,4000,16000", help="messages in the room, comma-separated")
    parser.add_argument("--window", type=float, default=0.1, help="the searched fraction of the history")
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.sizes.split(",")], args.window)
    print(f"search for a keyword in the last {args.window:.0%} of a room's history (reads = items read)")
    print_table(
        ["messages", "matches", "reads/call ours", "calls", "reads ours", "reads naive", "naive / ours"],
        rows,
    )
    print("ours: at most 500 reads per call, the range's messages in all; naive: the whole room every time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
