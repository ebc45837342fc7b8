"""A reference receiver for roomcast's signed `room.closed` webhooks.

Standard library only (http.server + sqlite3), plus the `standardwebhooks` package for
verification, so that it reads as a recipe for any stack:

1. verify the signature over the *raw* body before parsing anything (401, nothing stored);
2. dedupe on `webhook-id`: the first INSERT wins through a PRIMARY KEY, so two copies of
   one delivery arriving at the same moment still store one (never check-then-insert);
3. store the room, its stats and its histories in one transaction, then answer 2xx fast.

A room's record may arrive as several parts (each its own signed webhook) sharing
`data.sync.sync_id`, numbered 1..N, the last one flagged `last: true`, in any order.
A sync is complete when parts 1..N have all arrived. Histories keep the sender's order:
part number, then position inside the part.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

logger = logging.getLogger("roomcast.receiver")

WEBHOOK_PATHS = frozenset({"/webhooks", "/sync/room"})
# roomcast splits large records into parts well below this; a bigger body is refused
# before it is read, so one client cannot make the receiver buffer gigabytes.
DEFAULT_MAX_BODY = 16 * 1024 * 1024
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
_ROOM_PATH = re.compile(r"^/rooms/([^/]+)$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    webhook_id   TEXT PRIMARY KEY,          -- the dedupe key: a repeat fails this constraint
    event_type   TEXT NOT NULL,
    sync_id      TEXT,
    part         INTEGER,
    received_at  REAL NOT NULL,
    repeats      INTEGER NOT NULL DEFAULT 0 -- later copies of the same webhook-id
);
CREATE TABLE IF NOT EXISTS syncs (
    sync_id         TEXT PRIMARY KEY,
    room_id         TEXT NOT NULL,
    name            TEXT,
    admin_user_ids  TEXT NOT NULL,          -- JSON array
    metadata        TEXT NOT NULL,          -- JSON object
    start_time      TEXT,
    end_time        TEXT,
    closed_by       TEXT,
    current_users   INTEGER NOT NULL DEFAULT 0,
    peak_users      INTEGER NOT NULL DEFAULT 0,
    total_joins     INTEGER NOT NULL DEFAULT 0,
    message_count   INTEGER NOT NULL DEFAULT 0,
    event_timestamp TEXT,
    last_part       INTEGER,                -- N, known once the part flagged last arrives
    parts_received  INTEGER NOT NULL DEFAULT 0,
    complete        INTEGER NOT NULL DEFAULT 0,
    first_received_at REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS syncs_by_room ON syncs (room_id, updated_at);
CREATE TABLE IF NOT EXISTS sync_parts (
    sync_id     TEXT NOT NULL,
    part        INTEGER NOT NULL,
    webhook_id  TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (sync_id, part)
);
CREATE TABLE IF NOT EXISTS chats (
    sync_id TEXT NOT NULL, part INTEGER NOT NULL, seq INTEGER NOT NULL,
    room_id TEXT NOT NULL, message_id TEXT, user_id TEXT, name TEXT, text TEXT,
    sent_at TEXT, client_msg_id TEXT, meta TEXT, deleted INTEGER, deleted_by TEXT, deleted_at TEXT,
    PRIMARY KEY (sync_id, part, seq)
);
CREATE TABLE IF NOT EXISTS sessions (
    sync_id TEXT NOT NULL, part INTEGER NOT NULL, seq INTEGER NOT NULL,
    room_id TEXT NOT NULL, session_id TEXT, user_id TEXT, name TEXT, connection_id TEXT,
    joined_at TEXT, left_at TEXT, duration_seconds REAL, end_reason TEXT,
    PRIMARY KEY (sync_id, part, seq)
);
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT PRIMARY KEY,           -- an event.batch's events dedupe on their own id
    type        TEXT NOT NULL,
    room_id     TEXT,
    timestamp   TEXT,
    data        TEXT NOT NULL,              -- JSON object
    webhook_id  TEXT NOT NULL,              -- the batch that brought it first
    seq         INTEGER NOT NULL,           -- its place in that batch
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, received_at);
CREATE TABLE IF NOT EXISTS calls (
    sync_id TEXT NOT NULL, part INTEGER NOT NULL, seq INTEGER NOT NULL,
    room_id TEXT NOT NULL, call_id TEXT, caller TEXT, callee TEXT, media TEXT, status TEXT,
    invited_at TEXT, started_at TEXT, ended_at TEXT, duration_seconds REAL, ended_by TEXT,
    reason TEXT,
    PRIMARY KEY (sync_id, part, seq)
);
CREATE TABLE IF NOT EXISTS moderation (
    sync_id TEXT NOT NULL, part INTEGER NOT NULL, seq INTEGER NOT NULL,
    room_id TEXT NOT NULL, act TEXT, by TEXT, target_user TEXT, at TEXT, until TEXT,
    message_id TEXT, reason TEXT, role TEXT,
    PRIMARY KEY (sync_id, part, seq)
);
"""
# Columns added after a database may already exist (a receiver kept across upgrades).
ADDED_COLUMNS = {"chats": ("deleted INTEGER", "deleted_by TEXT", "deleted_at TEXT")}

CHAT_FIELDS = (
    "id", "user_id", "name", "text", "sent_at", "client_msg_id", "meta", "deleted", "deleted_by", "deleted_at",
)  # fmt: skip
# room.closed moderation_history (issue 14): every act, who/what/whom/when/until/why.
MODERATION_FIELDS = ("act", "by", "target_user", "at", "until", "message_id", "reason", "role")
SESSION_FIELDS = (
    "session_id", "user_id", "name", "connection_id", "joined_at", "left_at",
    "duration_seconds", "end_reason",
)  # fmt: skip
CALL_FIELDS = (
    "call_id", "caller", "callee", "media", "status", "invited_at", "started_at", "ended_at",
    "duration_seconds", "ended_by", "reason",
)  # fmt: skip


class BadPayload(ValueError):
    """A verified body that is not a usable roomcast event (answered 400)."""


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    verified: bool
    stored: bool = False
    duplicate: bool = False


def parse_secrets(values: Iterable[str]) -> list[str]:
    """Secrets from flags or RECEIVER_SECRETS (comma or space separated); each must be
    `whsec_<base64>` so that a typo fails at start instead of at the first delivery."""
    found: list[str] = []
    for value in values:
        for item in re.split(r"[,\s]+", value.strip()):
            if not item:
                continue
            if not item.startswith(SECRET_PREFIX):
                raise ValueError("each secret must start with whsec_")
            encoded = item[len(SECRET_PREFIX) :]
            try:
                raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError("a secret is not valid base64 after whsec_") from exc
            if len(raw) < 16:
                raise ValueError("a secret must hold at least 16 bytes")
            found.append(item)
    return found


class Verifier:
    """Accepts a webhook signed by any of several secrets: during a rotation the sender
    signs with every active secret, and the receiver may know the old one, the new one,
    or both."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._hooks = [Webhook(s) for s in secrets]
        if not self._hooks:
            raise ValueError("at least one webhook secret is required")

    @property
    def count(self) -> int:
        return len(self._hooks)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        for hook in self._hooks:
            try:
                # json_parse=False: the body is parsed once, after verification, by the
                # caller, so that a verified-but-malformed body is a 400 and not a 401.
                hook.verify(body, dict(headers), json_parse=False)
                return True
            except WebhookVerificationError:
                continue
            except ValueError:
                # A malformed signature list ("v1" without a comma, bad base64) or a body
                # that is not UTF-8: no signature can match, for any secret.
                return False
        return False


class Store:
    """SQLite in WAL mode, one short-lived connection per request: readers never block the
    writer, and BEGIN IMMEDIATE serialises writers without a Python lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            for table, columns in ADDED_COLUMNS.items():
                present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                for column in columns:
                    if column.split()[0] not in present:
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    # -- writes ----------------------------------------------------------------------

    def store(self, webhook_id: str, event: dict[str, Any]) -> bool:
        """Store one verified event; False when this webhook-id was already stored."""
        event_type = str(event.get("type") or "")
        data = event.get("data")
        if event_type in ("room.closed", "event.batch") and not isinstance(data, dict):
            raise BadPayload("data must be an object")
        if event_type == "event.batch":
            assert isinstance(data, dict)
            events = data.get("events")
            if not isinstance(events, list) or not all(
                isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("type"), str)
                and isinstance(e.get("data"), dict) for e in events
            ):
                raise BadPayload("data.events must be a list of events {id, type, timestamp, data}")
        sync = _sync_of(webhook_id, data) if event_type == "room.closed" else None
        now = time.time()
        with self.connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                try:
                    conn.execute(
                        "INSERT INTO deliveries (webhook_id, event_type, sync_id, part, received_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (webhook_id, event_type, sync and sync[0], sync and sync[1], now),
                    )
                except sqlite3.IntegrityError:
                    conn.execute(
                        "UPDATE deliveries SET repeats = repeats + 1 WHERE webhook_id = ?",
                        (webhook_id,),
                    )
                    conn.execute("COMMIT")
                    return False
                if sync is not None:
                    assert isinstance(data, dict)
                    self._store_room_closed(conn, webhook_id, event, data, sync, now)
                if event_type == "event.batch":
                    assert isinstance(data, dict)
                    # Every type is accepted as it comes (the catalogue: docs/events/); an
                    # event already stored from another batch adds nothing.
                    conn.executemany(
                        "INSERT OR IGNORE INTO events (event_id, type, room_id, timestamp, data, webhook_id,"
                        " seq, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (e["id"], e["type"], _text(e["data"].get("room_id")), _text(e.get("timestamp")),
                             json.dumps(e["data"]), webhook_id, seq, now)
                            for seq, e in enumerate(data["events"])
                        ],
                    )
                conn.execute("COMMIT")
                return True
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _store_room_closed(
        self,
        conn: sqlite3.Connection,
        webhook_id: str,
        event: dict[str, Any],
        data: dict[str, Any],
        sync: tuple[str, int, bool],
        now: float,
    ) -> None:
        sync_id, part, last = sync
        room_id = data.get("room_id")
        if not isinstance(room_id, str) or not room_id:
            raise BadPayload("data.room_id must be a non-empty string")
        stats = data.get("stats") if isinstance(data.get("stats"), dict) else {}
        assert isinstance(stats, dict)
        # Every part repeats the room fields and stats; the latest part's copy is kept.
        conn.execute(
            """
            INSERT INTO syncs (sync_id, room_id, name, admin_user_ids, metadata, start_time,
                end_time, closed_by, current_users, peak_users, total_joins, message_count,
                event_timestamp, first_received_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (sync_id) DO UPDATE SET
                name = excluded.name, admin_user_ids = excluded.admin_user_ids,
                metadata = excluded.metadata, start_time = excluded.start_time,
                end_time = excluded.end_time, closed_by = excluded.closed_by,
                current_users = excluded.current_users, peak_users = excluded.peak_users,
                total_joins = excluded.total_joins, message_count = excluded.message_count,
                event_timestamp = excluded.event_timestamp, updated_at = excluded.updated_at
            """,
            (
                sync_id, room_id, _text(data.get("name")),
                json.dumps(data.get("admin_user_ids") or []), json.dumps(data.get("metadata") or {}),
                _text(data.get("start_time")), _text(data.get("end_time")),
                _text(data.get("closed_by")), _int(stats.get("current_users")),
                _int(stats.get("peak_users")), _int(stats.get("total_joins")),
                _int(stats.get("message_count")), _text(event.get("timestamp")), now, now,
            ),
        )  # fmt: skip
        inserted = conn.execute(
            "INSERT OR IGNORE INTO sync_parts (sync_id, part, webhook_id, received_at)"
            " VALUES (?, ?, ?, ?)",
            (sync_id, part, webhook_id, now),
        ).rowcount
        if inserted:
            # A part seen before under another webhook-id adds no rows a second time.
            self._insert_rows(
                conn, "chats", sync_id, part, room_id, data.get("chat_history"), CHAT_FIELDS
            )
            self._insert_rows(
                conn,
                "sessions",
                sync_id,
                part,
                room_id,
                data.get("session_history"),
                SESSION_FIELDS,
            )
            self._insert_rows(conn, "calls", sync_id, part, room_id, data.get("call_history"), CALL_FIELDS)  # fmt: skip
            self._insert_rows(
                conn, "moderation", sync_id, part, room_id, data.get("moderation_history"), MODERATION_FIELDS
            )
        if last:
            conn.execute("UPDATE syncs SET last_part = ? WHERE sync_id = ?", (part, sync_id))
        conn.execute(
            """
            UPDATE syncs SET
                parts_received = (SELECT COUNT(*) FROM sync_parts WHERE sync_id = :s),
                complete = (last_part IS NOT NULL AND last_part =
                    (SELECT COUNT(*) FROM sync_parts WHERE sync_id = :s AND part <= last_part))
            WHERE sync_id = :s
            """,
            {"s": sync_id},
        )

    @staticmethod
    def _insert_rows(
        conn: sqlite3.Connection,
        table: str,
        sync_id: str,
        part: int,
        room_id: str,
        rows: Any,
        fields: tuple[str, ...],
    ) -> None:
        if rows is None:
            return
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadPayload(f"{table} history must be a list of objects")
        columns = ["message_id" if f == "id" else f for f in fields]
        sql = (
            f"INSERT INTO {table} (sync_id, part, seq, room_id, {', '.join(columns)})"  # noqa: S608 - fixed names
            f" VALUES (?, ?, ?, ?, {', '.join('?' for _ in columns)})"
        )
        conn.executemany(
            sql,
            (
                (sync_id, part, seq, room_id, *(_column(row.get(f)) for f in fields))
                for seq, row in enumerate(rows)
            ),
        )

    # -- reads -----------------------------------------------------------------------

    def rooms(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Synced rooms, most recently updated first; per room the sync GET /rooms/{id}
        shows (a complete one before an incomplete one, then the latest)."""
        with self.connection() as conn:
            rows = conn.execute(
                """
                SELECT * FROM (
                    SELECT s.*, ROW_NUMBER() OVER (
                        PARTITION BY room_id ORDER BY complete DESC, updated_at DESC
                    ) AS pick
                    FROM syncs s
                ) WHERE pick = 1
                ORDER BY updated_at DESC, room_id
                LIMIT ? OFFSET ?
                """,
                (limit, offset),
            ).fetchall()
        return [_sync_view(r) for r in rows]

    def room(self, room_id: str) -> dict[str, Any] | None:
        """The room's latest sync with its histories in the sender's order."""
        with self.connection() as conn:
            conn.execute("BEGIN")  # one snapshot for the four reads
            try:
                sync = conn.execute(
                    "SELECT * FROM syncs WHERE room_id = ? ORDER BY complete DESC, updated_at DESC"
                    " LIMIT 1",
                    (room_id,),
                ).fetchone()
                if sync is None:
                    return None
                view = _sync_view(sync)
                key = (sync["sync_id"],)
                view["chat_history"] = [
                    _chat_view(r)
                    for r in conn.execute(
                        "SELECT * FROM chats WHERE sync_id = ? ORDER BY part, seq", key
                    )
                ]
                view["session_history"] = [
                    _row_view(r, SESSION_FIELDS)
                    for r in conn.execute(
                        "SELECT * FROM sessions WHERE sync_id = ? ORDER BY part, seq", key
                    )
                ]
                view["call_history"] = [
                    _row_view(r, CALL_FIELDS)
                    for r in conn.execute(
                        "SELECT * FROM calls WHERE sync_id = ? ORDER BY part, seq", key
                    )
                ]
                view["moderation_history"] = [
                    {k: v for k, v in _row_view(r, MODERATION_FIELDS).items() if v is not None}
                    for r in conn.execute(
                        "SELECT * FROM moderation WHERE sync_id = ? ORDER BY part, seq", key
                    )
                ]
                view["parts"] = [
                    r["part"]
                    for r in conn.execute(
                        "SELECT part FROM sync_parts WHERE sync_id = ? ORDER BY part", key
                    )
                ]
            finally:
                conn.execute("COMMIT")
        return view

    def events(self, event_type: str | None, room_id: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """Received events, newest first, optionally of one type and/or room."""
        where, args = [], []
        if event_type:
            where.append("type = ?")
            args.append(event_type)
        if room_id:
            where.append("room_id = ?")
            args.append(room_id)
        # Only the fixed clauses above are joined; the values are bound parameters.
        sql = "SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608
        with self.connection() as conn:
            rows = conn.execute(sql + " ORDER BY received_at DESC, seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            {"id": r["event_id"], "type": r["type"], "timestamp": r["timestamp"], "data": json.loads(r["data"]),
             "webhook_id": r["webhook_id"]}
            for r in rows
        ]

    def stats(self) -> dict[str, int]:
        with self.connection() as conn:
            row = conn.execute(
                """
                SELECT
                  (SELECT COUNT(DISTINCT room_id) FROM syncs) AS rooms,
                  (SELECT COUNT(*) FROM syncs) AS syncs,
                  (SELECT COUNT(*) FROM syncs WHERE complete) AS complete_syncs,
                  (SELECT COUNT(*) FROM deliveries) AS deliveries,
                  (SELECT COALESCE(SUM(repeats), 0) FROM deliveries) AS duplicates,
                  (SELECT COUNT(*) FROM chats) AS chats,
                  (SELECT COUNT(*) FROM sessions) AS sessions,
                  (SELECT COUNT(*) FROM calls) AS calls,
                  (SELECT COUNT(*) FROM moderation) AS moderation_acts,
                  (SELECT COUNT(*) FROM events) AS events
                """
            ).fetchone()
        return dict(row)

    def delivery_count(self, webhook_id: str) -> int:
        """1 + repeats for a stored webhook-id, 0 if never stored (used by tests)."""
        with self.connection() as conn:
            row = conn.execute(
                "SELECT repeats FROM deliveries WHERE webhook_id = ?", (webhook_id,)
            ).fetchone()
        return 0 if row is None else 1 + int(row["repeats"])


def _sync_of(webhook_id: str, data: Any) -> tuple[str, int, bool]:
    """(sync_id, part, last). A payload without `sync` is a one-part record keyed by its
    webhook-id, so older or simpler senders still store correctly."""
    sync = data.get("sync") if isinstance(data, dict) else None
    if sync is None:
        return webhook_id, 1, True
    if not isinstance(sync, dict):
        raise BadPayload("data.sync must be an object")
    sync_id, part, last = sync.get("sync_id"), sync.get("part"), sync.get("last")
    if not isinstance(sync_id, str) or not sync_id:
        raise BadPayload("data.sync.sync_id must be a non-empty string")
    if isinstance(part, bool) or not isinstance(part, int) or part < 1:
        raise BadPayload("data.sync.part must be an integer >= 1")
    if not isinstance(last, bool):
        raise BadPayload("data.sync.last must be a boolean")
    return sync_id, part, last


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _column(value: Any) -> Any:
    """Scalars as they are; objects (meta) as JSON text."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value)


def _sync_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "room_id": row["room_id"],
        "name": row["name"],
        "admin_user_ids": json.loads(row["admin_user_ids"]),
        "metadata": json.loads(row["metadata"]),
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "closed_by": row["closed_by"],
        "stats": {
            "current_users": row["current_users"],
            "peak_users": row["peak_users"],
            "total_joins": row["total_joins"],
            "message_count": row["message_count"],
        },
        "sync": {
            "sync_id": row["sync_id"],
            "parts_received": row["parts_received"],
            "last_part": row["last_part"],
            "complete": bool(row["complete"]),
            "timestamp": row["event_timestamp"],
        },
    }


def _chat_view(row: sqlite3.Row) -> dict[str, Any]:
    view = {"id": row["message_id"]}
    view.update(_row_view(row, CHAT_FIELDS[1:]))
    if view.get("meta") is not None:
        view["meta"] = json.loads(view["meta"])
    if view.get("deleted") is not None:
        view["deleted"] = bool(view["deleted"])
    optional = ("client_msg_id", "meta", "deleted", "deleted_by", "deleted_at")
    return {k: v for k, v in view.items() if v is not None or k not in optional}


def _row_view(row: sqlite3.Row, fields: Iterable[str]) -> dict[str, Any]:
    return {f: row[f] for f in fields}


# -- HTTP ----------------------------------------------------------------------------


def _query_int(path: str, name: str, default: int, low: int, high: int) -> int | None:
    """A bounded integer query parameter; None when present but invalid."""
    values = parse_qs(urlsplit(path).query).get(name)
    if not values:
        return default
    raw = values[-1]
    if not raw.isdigit() or not low <= int(raw) <= high:
        return None
    return int(raw)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Many senders retry at once; the default listen backlog of 5 drops connections.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: Receiver) -> None:
        self.app = app
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "roomcast-receiver/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        # Access lines go to the logger at debug level; deliveries get their own line.
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        app = self.server.app
        if path == "/health":
            self._reply(200, {"status": "ok"})
        elif path == "/rooms":
            limit = _query_int(self.path, "limit", 100, 1, 1000)
            offset = _query_int(self.path, "offset", 0, 0, 10**9)
            if limit is None or offset is None:
                self._reply(400, {"error": "bad_query", "message": "limit 1-1000, offset >= 0"})
                return
            rooms = app.store.rooms(limit, offset)
            self._reply(200, {"rooms": rooms, "count": len(rooms), "offset": offset})
        elif path == "/stats":
            self._reply(200, app.stats())
        elif path == "/events":
            limit = _query_int(self.path, "limit", 100, 1, 1000)
            if limit is None:
                self._reply(400, {"error": "bad_query", "message": "limit 1-1000"})
                return
            query = parse_qs(urlsplit(self.path).query)
            events = app.store.events((query.get("type") or [None])[0], (query.get("room") or [None])[0], limit)
            self._reply(200, {"events": events, "count": len(events)})
        elif match := _ROOM_PATH.match(path):
            room = app.store.room(unquote(match.group(1)))
            if room is None:
                self._reply(404, {"error": "not_found", "message": "no sync for this room"})
            else:
                self._reply(200, room)
        elif path in WEBHOOK_PATHS:
            self._reply(405, {"error": "method_not_allowed", "message": "POST only"})
        else:
            self._reply(404, {"error": "not_found", "message": "no such path"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path not in WEBHOOK_PATHS:
            self._discard_body()
            self._reply(404, {"error": "not_found", "message": "no such path"})
            return
        length_header = self.headers.get("content-length")
        if length_header is None or not length_header.isdigit():
            self.close_connection = True
            self._reply(411, {"error": "length_required", "message": "send Content-Length"})
            return
        length = int(length_header)
        if length > self.server.app.max_body:
            self.close_connection = True
            self._reply(413, {"error": "too_large", "message": "body too large"})
            return
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        outcome = self.server.app.handle(body, headers)
        self._reply(outcome.status, outcome.body)

    def _discard_body(self) -> None:
        length = self.headers.get("content-length")
        if length and length.isdigit() and int(length) <= self.server.app.max_body:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(payload)


@dataclass
class Receiver:
    """A running receiver: `.url` is its base URL, `.webhook_url` where to point roomcast."""

    store: Store
    verifier: Verifier
    max_body: int = DEFAULT_MAX_BODY
    _server: _Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _refused: int = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks"

    @property
    def db_path(self) -> str:
        return self.store.path

    def handle(self, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """Verify, parse, dedupe and store one delivery; log one line for it."""
        webhook_id = headers.get("webhook-id") or ""
        outcome = self._handle(webhook_id, body, headers)
        logger.info(
            "webhook delivery id=%s status=%s verified=%s stored=%s duplicate=%s bytes=%d",
            webhook_id[:100] or "-", outcome.status, outcome.verified, outcome.stored,
            outcome.duplicate, len(body),
        )  # fmt: skip
        if not outcome.verified:
            with self._lock:
                self._refused += 1
        return outcome

    def _handle(self, webhook_id: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        if not self.verifier.verify(body, headers):
            return Outcome(401, {"error": "invalid_signature", "message": "signature not verified"}, False)  # fmt: skip
        try:
            event = json.loads(body)
        except ValueError:
            return Outcome(400, {"error": "bad_json", "message": "the body is not JSON"}, True)
        if not isinstance(event, dict):
            return Outcome(400, {"error": "bad_payload", "message": "the body must be an object"}, True)  # fmt: skip
        try:
            stored = self.store.store(webhook_id, event)
        except BadPayload as exc:
            return Outcome(400, {"error": "bad_payload", "message": str(exc)}, True)
        if not stored:
            return Outcome(200, {"ok": True, "duplicate": True}, True, duplicate=True)
        return Outcome(200, {"ok": True, "duplicate": False}, True, stored=True)

    def stats(self) -> dict[str, int]:
        totals = self.store.stats()
        with self._lock:
            totals["refused"] = self._refused
        return totals

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Receiver:
        self.bind(host, port)
        assert self._server is not None
        # A short poll interval makes stop() quick (tests start and stop many receivers).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="roomcast-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def bind(self, host: str = "127.0.0.1", port: int = 0) -> Receiver:
        self._server = _Server((host, port), self)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (the command line) until interrupted."""
        assert self._server is not None, "bind() first"
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_receiver(
    secrets: Iterable[str],
    db_path: str | os.PathLike[str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> Receiver:
    if db_path is None:
        db_path = Path(tempfile.mkdtemp(prefix="roomcast-receiver-")) / "receiver.sqlite3"
    return Receiver(
        store=Store(db_path), verifier=Verifier(parse_secrets(secrets)), max_body=max_body
    )


def start_receiver(
    host: str = "127.0.0.1",
    port: int = 0,
    secrets: Iterable[str] = (),
    db_path: str | os.PathLike[str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> Receiver:
    """Start a receiver in a background thread (tests, the local runtime). Port 0 picks a
    free port; read it back from `.url`. Stop it with `.stop()` or a `with` block."""
    return make_receiver(secrets, db_path, max_body).start(host, port)
