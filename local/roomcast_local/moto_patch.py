"""moto's DynamoDB at the cost of the items a call touches, not of the table.

moto is the local emulator (docs/local-runtime.md), and three of its habits make the
local runtime slow down and grow without end as its table fills (measured on moto 5.2.5,
see docs/local-runtime.md "moto's DynamoDB, corrected"):

1. ``TransactWriteItems`` deep-copies every table a transaction names, once per action,
   to be able to roll back: one transaction on a 20,000-item table took seconds.
2. Every model object moto builds is appended to its class's ``instances_tracked`` list
   (moto's dashboard reads it) and never removed: every DynamoDB ``Item``, including each
   copy made by (1), by ``UpdateItem`` (which copies the old item) and by ``Query`` (which
   copies its results), and every SQS ``Message``, stays in memory for good.
3. ``Query`` builds and sorts the list of *every* item of the table on each call, then
   keeps the partition it was asked for.

This module corrects exactly those, and nothing else of moto's behaviour:

1. A transaction saves a detached copy of each item it is about to write (only those)
   and, if any action fails, puts those copies back (or removes an item it created):
   every action of a failed transaction is undone, as before; stream records it wrote
   are dropped, as the table copy used to drop them.
2. DynamoDB ``Item``, stream ``StreamRecord``, ``ShardIterator`` and SQS ``Message``
   objects are not tracked (the moto dashboard lists none of them; nothing else of moto
   reads those lists). A stream record holds both item images (NEW_AND_OLD_IMAGES): while
   tracked, every record the shard dropped (4 below) stayed alive in the list, ~25 KB
   per chat message in the local runtime.
3. A ``Query`` on the table reads only the queried partition; a ``Query`` on an index
   skips the sort of the whole table (moto sorts the matching items again with a total
   order: index keys, then the table's keys), so its result is unchanged. An index
   query still looks at every item once: moto keeps no index, and this module does not
   add one.
4. Streams (the outbox of docs/webhooks.md, read by the runtime's stream pollers): moto
   keeps every stream record of a table for good, and every shard iterator it ever handed
   out (one per GetRecords call, ~1.7 KB each: 30 MB an hour for one idle poller). Here a
   shard iterator expires 15 minutes after it was issued, as DynamoDB's do, and the records
   that every reader has read past are dropped: a record is kept while any iterator not
   yet used points at or before it (with no reader at all, records are kept, as before).
   DynamoDB keeps records 24 hours whoever read them; locally nobody reads a record twice
   (a reader goes on with NextShardIterator), and an iterator used again after its records
   were dropped reads from the oldest record kept, as an expired position would after 24 h.
   What is kept is then bounded by time: a poller reading 5 times a second holds ~4,500
   live iterators, ~8 MB, from 15 minutes on.

Applied by the local runtime before its moto server starts and by the tests' in-process
moto (tests/conftest.py), so both run the same DynamoDB. The code replaced is moto's
own, so the patch is pinned to the moto versions it was verified on: on any other version
it is not applied and a loud warning says why (moto then works, slowly).
ROOMCAST_MOTO_PATCH=off leaves moto as released (the benchmarks use it for "before").
tests/integration/test_moto_patch.py proves the semantics kept.
"""

from __future__ import annotations

import contextvars
import copy
import importlib.metadata
import os
import threading
import time
import warnings
from typing import Any

# Verified by tests/integration/test_moto_patch.py and bench/bench_local_e2e.py --soak.
VERIFIED_MOTO_VERSIONS = frozenset({"5.2.5"})

_applied = False
# The (table, partition key) of the Query running in this thread, if any: Table.all_items
# answers with that partition only. A ContextVar, so concurrent threads never mix scopes.
_query_scope: contextvars.ContextVar[tuple[Any, Any, bool] | None] = contextvars.ContextVar(
    "roomcast_moto_query_scope", default=None
)


def moto_version() -> str:
    return importlib.metadata.version("moto")


def apply() -> bool:
    """Patch moto in this process (idempotent). False, with a warning, on an unverified moto."""
    global _applied
    if _applied:
        return True
    if os.environ.get("ROOMCAST_MOTO_PATCH", "").lower() in ("0", "off", "false"):
        return False  # moto as released: the benchmarks' "before" figures
    version = moto_version()
    if version not in VERIFIED_MOTO_VERSIONS:
        warnings.warn(
            f"roomcast_local.moto_patch: moto {version} is not one of the verified versions "
            f"({', '.join(sorted(VERIFIED_MOTO_VERSIONS))}); its DynamoDB is left as it is: "
            "transactions copy whole tables and memory grows with every item written. "
            "Install the pinned moto (requirements-run.txt) or verify this module on it.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord, Table
    from moto.dynamodbstreams.models import ShardIterator
    from moto.sqs.models import Message

    untracked: tuple[type, ...] = (Item, Message, StreamRecord, ShardIterator)
    for model in untracked:
        model.__new__ = staticmethod(_untracked_new)  # type: ignore[assignment]
        model.instances_tracked = []  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        token = _query_scope.set((self, hash_key, bool(index_name)))
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.reset(token)

    def all_items(self: Table) -> list[Item]:
        scope = _query_scope.get()
        if scope is None or scope[0] is not self:
            return original_all_items(self)  # Scan, export, PartiQL: moto's own order
        _, hash_key, on_index = scope
        if on_index:
            return list(_items_of(self))  # Query sorts these itself (a total order)
        partition = self.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    _patch_streams()
    _applied = True
    return True


# ---------------------------------------------------------------- 4. streams
SHARD_ITERATOR_LIFETIME_S = 15 * 60  # DynamoDB Streams: an iterator expires after 15 minutes
# Appends (a write's record) and drops (a read past them) change a shard's records and its
# first sequence number together: one lock keeps a record's number and place in step.
_stream_lock = threading.Lock()


class _ExpiringIterators(dict):  # type: ignore[type-arg]
    """moto's shard-iterator registry, forgetting each iterator 15 minutes after it was issued."""

    def __init__(self) -> None:
        super().__init__()
        self._issued: dict[str, float] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        now = time.monotonic()
        super().__setitem__(key, value)
        self._issued[key] = now
        # Oldest first (insertion order): only the expired ones are looked at, not the whole
        # registry (a poller sets one per GetRecords call, several a second).
        while self._issued:
            oldest = next(iter(self._issued))
            if now - self._issued[oldest] < SHARD_ITERATOR_LIFETIME_S:
                break
            del self._issued[oldest]
            self.pop(oldest, None)


def _patch_streams() -> None:
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    original_backend_init = DynamoDBStreamsBackend.__init__
    original_iterator_init = ShardIterator.__init__
    original_get = ShardIterator.get
    original_add = StreamShard.add

    def backend_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_backend_init(self, *args, **kwargs)
        self.shard_iterators = _ExpiringIterators()

    def iterator_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_iterator_init(self, *args, **kwargs)
        # Not used yet: until it is used or expires, its position holds the shard's records.
        self._roomcast_issued = time.monotonic()
        _unused_of(self.stream_shard)[self.id] = self

    def get(self: Any, limit: int = 1000) -> dict[str, Any]:
        shard = self.stream_shard
        with _stream_lock:
            # Its records were dropped (it was used before): go on from the oldest kept.
            self.sequence_number = max(self.sequence_number, shard.starting_sequence_number)
            result = original_get(self, limit)
            _unused_of(shard).pop(self.id, None)
            _drop_read_records(shard)
        return result

    def add(self: Any, old: Any, new: Any) -> None:
        with _stream_lock:
            original_add(self, old, new)

    DynamoDBStreamsBackend.__init__ = backend_init  # type: ignore[method-assign]
    ShardIterator.__init__ = iterator_init  # type: ignore[method-assign]
    ShardIterator.get = get  # type: ignore[method-assign]
    StreamShard.add = add  # type: ignore[method-assign]


def _unused_of(shard: Any) -> dict[str, Any]:
    unused = shard.__dict__.get("_roomcast_unused_iterators")
    if unused is None:
        unused = shard.__dict__["_roomcast_unused_iterators"] = {}
    return unused  # type: ignore[no-any-return]


def _drop_read_records(shard: Any) -> None:
    """Drop the records before every unused iterator's position (with the lock held)."""
    unused = _unused_of(shard)
    now = time.monotonic()
    for key, iterator in list(unused.items()):
        if now - iterator._roomcast_issued >= SHARD_ITERATOR_LIFETIME_S:
            del unused[key]  # expired unused: a reader that stopped holds nothing back
    if not unused:
        return
    floor = min(int(it.sequence_number) for it in unused.values())
    drop = min(len(shard.items), floor - shard.starting_sequence_number)
    if drop > 0:
        del shard.items[:drop]
        shard.starting_sequence_number += drop


def is_applied() -> bool:
    return _applied


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    # moto's BaseModel.__new__ minus `cls.instances_tracked.append(instance)`.
    return object.__new__(cls)


def _items_of(table: Any) -> Any:
    for partition in table.items.values():
        if table.range_key_attr:
            yield from partition.values()
        else:
            yield partition


class _Undo:
    """The items a transaction changes, as they were before it changed them."""

    def __init__(self) -> None:
        self._saved: dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] = {}
        self._streams: dict[int, tuple[Any, int]] = {}

    def save(self, table: Any, hash_key: Any, range_key: Any) -> None:
        slot = (id(table), hash_key, range_key)
        if slot in self._saved:
            return
        current = table.get_item(hash_key, range_key)
        # A detached copy: UpdateItem changes the stored item in place.
        self._saved[slot] = (table, hash_key, range_key, copy.deepcopy(current))
        if table.stream_shard is not None and id(table) not in self._streams:
            # The sequence number the next record gets: records read meanwhile may be dropped
            # from the front, so a position in the list would not stay put.
            shard = table.stream_shard
            self._streams[id(table)] = (shard, shard.starting_sequence_number + len(shard.items))

    def restore(self) -> None:
        for table, hash_key, range_key, before in self._saved.values():
            if table.range_key_attr:
                partition = table.items[hash_key]
                if before is None:
                    partition.pop(range_key, None)
                else:
                    partition[range_key] = before
            elif before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
        for shard, next_sequence in self._streams.values():
            with _stream_lock:
                del shard.items[max(0, next_sequence - shard.starting_sequence_number):]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's DynamoDBBackend.transact_write_items, with an item-level undo log in
    place of a deep copy of each table. Same validation, order, errors and rollback."""
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import get_filter_expression

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                table = self.get_table(table_name)
                undo.save(table, *self.get_keys_value(table, key))
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # moto reports any other failure as that action's reason
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    if any(code is not None for code, _, _ in errors):
        undo.restore()
        raise TransactionCanceledException(errors)
