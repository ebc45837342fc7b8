"""A WebSocket gateway with API Gateway's semantics, on the `websockets` asyncio server.

- Handshake: the route's REQUEST authorizer (Deny -> 403, "Unauthorized" or a failure
  -> 401/500), then $connect (a non-2xx statusCode refuses the handshake). A
  Sec-WebSocket-Protocol header in $connect's response selects that subprotocol.
- Messages: the route is chosen by the API's RouteSelectionExpression
  ($request.body.<path>), else $default; a two-way route (one with a RouteResponse)
  sends the integration's `body` back. Frames of one connection are handled in order.
- Limits: 32 KB frames and 128 KB messages (close 1009), the idle timeout and the
  maximum connection lifetime (close 1001 "Going away").
- $disconnect after every close, whoever closed.
- Stop (docs/local-runtime.md "Stopping"): no new handshakes, every in-flight invocation
  abandoned, every socket closed with 1001 at once, then each one's $disconnect invoked
  within a deadline; the counts are returned for the runtime's log.
- @connections operations (post/info/delete) for the HTTP side, thread-safe.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import string
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Subprotocol

from roomcast_local.template import WsApi

MAX_FRAME_BYTES = 32 * 1024
MAX_MESSAGE_BYTES = 128 * 1024
_ID_ALPHABET = string.ascii_letters + string.digits

# (logical id, event) -> the handler's result; raises on a failed invocation.
Invoke = Callable[[str, Any], Awaitable[Any]]
Log = Callable[[str], None]


class Gone(Exception):
    """The connection is unknown or already closed (API Gateway's 410 GoneException)."""


class TooLarge(Exception):
    """PostToConnection data over the 128 KB message limit."""


class Stopping(Exception):
    """The gateway is stopping: the invocation's answer is no longer awaited."""


def new_connection_id() -> str:
    # API Gateway's ids look like "L0SM9cOFvHcCIhw=": 12 chars of base64 with padding.
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def _now_ms() -> int:
    return int(time.time() * 1000)


def _request_time(ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ms / 1000))


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


@dataclass
class Conn:
    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str
    headers: dict[str, str]
    multi_headers: dict[str, list[str]]
    query: dict[str, str] | None
    multi_query: dict[str, list[str]] | None
    authorizer: dict[str, Any] | None = None
    subprotocol: str | None = None
    last_active: int = 0
    ws: ServerConnection | None = None
    closing: bool = False
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


class WebSocketGateway:
    def __init__(
        self,
        api: WsApi,
        invoke: Invoke,
        *,
        host: str,
        port: int,
        stage: str,
        api_id: str,
        idle_timeout: float,
        max_lifetime: float,
        log: Log,
    ) -> None:
        self.api = api
        self.invoke = invoke
        self.host = host
        self.port = port
        self.stage = stage
        self.api_id = api_id
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.log = log
        self.connections: dict[str, Conn] = {}
        self._pending: dict[int, Conn] = {}
        self._disconnects: set[asyncio.Task[Any]] = set()
        self._server: Server | None = None
        self._stopping: asyncio.Future[None] | None = None
        self.disconnect_counts = {"attempted": 0, "completed": 0, "failed": 0}
        self.loop: asyncio.AbstractEventLoop | None = None
        path = api.selection_expression.removeprefix("$request.body.")
        self._selection_path = path.split(".") if api.selection_expression.startswith("$request.body.") else None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopping = self.loop.create_future()
        self._server = await serve(
            self._session,
            self.host,
            self.port,
            process_request=self._handshake,
            process_response=self._handshake_done,
            select_subprotocol=self._select_subprotocol,
            # API Gateway: 32 KB per frame, 128 KB per (fragmented) message, close 1009 beyond.
            max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES),
            # API Gateway sends no pings of its own and offers no compression extension.
            ping_interval=None,
            compression=None,
            close_timeout=2,
            # The handshake runs the authorizer and $connect: API Gateway's integration
            # timeout (29 s), not websockets' 10 s, bounds it (hundreds of clients at once).
            open_timeout=30,
            server_header=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.stage}"

    async def stop(self, deadline: float) -> dict[str, int]:
        """Close everything by `deadline` (loop.time()); $disconnect is best-effort, as in
        API Gateway: the ones still running at the deadline are cut off by the caller."""
        assert self.loop is not None and self._stopping is not None
        if not self._stopping.done():
            self._stopping.set_result(None)  # sessions stop waiting for their invocations
        open_at_stop = len(self.connections)
        if self._server is not None:
            # Stops listening, then closes every connection with 1001 Going Away (each
            # close waits close_timeout at most for the client's answer).
            self._server.close(close_connections=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), max(0.1, deadline - self.loop.time()))
        if self._disconnects:
            await asyncio.wait(self._disconnects, timeout=max(0.1, deadline - self.loop.time()))
        return {"connections": open_at_stop, **self.disconnect_counts, "running": len(self._disconnects)}

    async def settle_disconnects(self, timeout: float) -> None:
        """Let the $disconnect invocations the runtime just cut off report it."""
        if self._disconnects:
            await asyncio.wait(self._disconnects, timeout=timeout)

    async def _invoke(self, function: str, event: Any) -> Any:
        """self.invoke, abandoned (Stopping) when the gateway stops first."""
        assert self._stopping is not None
        if self._stopping.done():
            raise Stopping()
        call = asyncio.ensure_future(self.invoke(function, event))
        await asyncio.wait((call, self._stopping), return_when=asyncio.FIRST_COMPLETED)
        if not call.done():
            call.cancel()  # its worker is stopped by the runtime
            raise Stopping()
        return call.result()

    # ------------------------------------------------------------------ events
    def _base_context(self, conn: Conn, route_key: str, event_type: str) -> dict[str, Any]:
        now = _now_ms()
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:9]).decode(),
            "requestTime": _request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": conn.connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "requestId": base64.b64encode(uuid.uuid4().bytes[:9]).decode(),
            "domainName": conn.headers.get("Host") or conn.headers.get("host") or f"{self.host}:{self.port}",
            "connectionId": conn.connection_id,
            "apiId": self.api_id,
        }
        if conn.authorizer is not None:
            context["authorizer"] = dict(conn.authorizer)
        return context

    def _handshake_event(self, conn: Conn, route_key: str, event_type: str) -> dict[str, Any]:
        event: dict[str, Any] = {
            "headers": dict(conn.headers),
            "multiValueHeaders": {k: list(v) for k, v in conn.multi_headers.items()},
            "requestContext": self._base_context(conn, route_key, event_type),
            "isBase64Encoded": False,
        }
        if conn.query is not None:
            event["queryStringParameters"] = dict(conn.query)
            event["multiValueQueryStringParameters"] = {k: list(v) for k, v in (conn.multi_query or {}).items()}
        return event

    # ------------------------------------------------------------------ handshake
    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        split = urlsplit(request.path)
        if split.path.rstrip("/") not in ("", f"/{self.stage}"):
            return _plain(connection, 403, {"message": "Forbidden"})
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return _plain(connection, 426, {"message": "Upgrade Required"})
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in request.headers.raw_items():
            multi.setdefault(name, []).append(value)
            headers[name] = ", ".join(multi[name]) if name.lower() == "sec-websocket-protocol" else value
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query: dict[str, str] | None = None
        multi_query: dict[str, list[str]] | None = None
        if pairs:
            query, multi_query = {}, {}
            for key, value in pairs:
                query[key] = value
                multi_query.setdefault(key, []).append(value)
        remote = connection.remote_address
        conn = Conn(
            connection_id=new_connection_id(),
            connected_at=_now_ms(),
            source_ip=str(remote[0]) if remote else "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            headers=headers,
            multi_headers=multi,
            query=query,
            multi_query=multi_query,
        )
        connect = self.api.routes.get("$connect")
        if connect is not None and connect.authorizer_function:
            if not _identity_present(connect.identity_sources, conn):
                return _plain(connection, 401, {"message": "Unauthorized"})
            refused = await self._authorize(connection, conn, connect.authorizer_function)
            if refused is not None:
                return refused
        if connect is not None and connect.function:
            event = self._handshake_event(conn, "$connect", "CONNECT")
            try:
                result = await self._invoke(connect.function, event)
            except Exception:
                return _plain(connection, 500, {"message": "Internal server error"})
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
            if not 200 <= status < 300:
                self.log(f"$connect refused {conn.connection_id} with {status}")
                return _plain(connection, status, {"message": "Forbidden" if status == 403 else "Unauthorized"})
            if isinstance(result, dict):
                for name, value in (result.get("headers") or {}).items():
                    if name.lower() == "sec-websocket-protocol":
                        conn.subprotocol = str(value)
        self._pending[id(connection)] = conn
        return None

    async def _authorize(self, connection: ServerConnection, conn: Conn, function: str) -> Response | None:
        event = self._handshake_event(conn, "$connect", "CONNECT")
        event["type"] = "REQUEST"
        event["methodArn"] = f"arn:aws:execute-api:us-east-1:123456789012:{self.api_id}/{self.stage}/$connect"
        event["stageVariables"] = {}
        event.setdefault("queryStringParameters", {})
        event.setdefault("multiValueQueryStringParameters", {})
        started = time.perf_counter()
        try:
            policy = await self._invoke(function, event)
        except Exception as exc:
            error = getattr(exc, "error", None) or {}
            if error.get("errorMessage") == "Unauthorized":  # the documented way for an authorizer to answer 401
                return _plain(connection, 401, {"message": "Unauthorized"})
            return _plain(connection, 500, {"message": "Internal server error"})
        latency = int((time.perf_counter() - started) * 1000)
        if not isinstance(policy, dict) or not _allows(policy):
            self.log(f"authorizer denied a connection from {conn.source_ip}")
            return _plain(connection, 403, {"message": "Forbidden"})
        context = dict(policy.get("context") or {})
        context["principalId"] = policy.get("principalId")
        context["integrationLatency"] = latency
        conn.authorizer = context
        return None

    async def _handshake_done(self, connection: ServerConnection, request: Request, response: Response) -> None:
        if response.status_code == 101:
            return
        # Refused after $connect succeeded (or refused by us: nothing pending then). The
        # connection was registered by $connect, so $disconnect runs as in API Gateway.
        conn = self._pending.pop(id(connection), None)
        if conn is not None:
            task = asyncio.create_task(self._disconnect(conn, 1006, "handshake failed"))
            self._disconnects.add(task)
            task.add_done_callback(self._disconnects.discard)

    def _select_subprotocol(self, connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        conn = self._pending.get(id(connection))
        if conn is None or conn.subprotocol is None:
            return None
        return Subprotocol(conn.subprotocol) if conn.subprotocol in offered else None

    # ------------------------------------------------------------------ session
    async def _session(self, ws: ServerConnection) -> None:
        conn = self._pending.pop(id(ws))
        conn.ws = ws
        conn.last_active = _now_ms()
        self.connections[conn.connection_id] = conn
        self.log(f"connected {conn.connection_id} from {conn.source_ip}")
        watchdog = asyncio.create_task(self._watchdog(conn))
        try:
            async for message in ws:
                conn.last_active = _now_ms()
                await self._route(conn, message)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            self.connections.pop(conn.connection_id, None)
            conn.closing = True
            code = ws.close_code if ws.close_code is not None else 1006
            reason = ws.close_reason or ""
            self.log(f"disconnected {conn.connection_id} ({code} {reason})".rstrip())
            task = asyncio.create_task(self._disconnect(conn, code, reason))
            self._disconnects.add(task)
            task.add_done_callback(self._disconnects.discard)

    async def _watchdog(self, conn: Conn) -> None:
        assert conn.ws is not None
        while True:
            now = _now_ms()
            idle_at = conn.last_active + self.idle_timeout * 1000
            end_at = conn.connected_at + self.max_lifetime * 1000
            if now >= min(idle_at, end_at):
                why = "idle timeout" if now >= idle_at else "maximum connection duration"
                self.log(f"closing {conn.connection_id}: {why}")
                conn.closing = True
                await conn.ws.close(1001, "Going away")
                return
            await asyncio.sleep(min(idle_at, end_at) / 1000 - now / 1000 + 0.01)

    async def _disconnect(self, conn: Conn, code: int, reason: str) -> None:
        route = self.api.routes.get("$disconnect")
        if route is None or not route.function:
            return
        event = self._handshake_event(conn, "$disconnect", "DISCONNECT")
        event.pop("queryStringParameters", None)
        event.pop("multiValueQueryStringParameters", None)
        event["requestContext"]["disconnectStatusCode"] = code
        event["requestContext"]["disconnectReason"] = reason
        # Not self._invoke: a $disconnect still runs while the gateway stops.
        self.disconnect_counts["attempted"] += 1
        try:
            await self.invoke(route.function, event)
        except (Exception, asyncio.CancelledError) as exc:
            self.disconnect_counts["failed"] += 1
            if not (self._stopping and self._stopping.done()):
                self.log(f"$disconnect failed for {conn.connection_id}: {exc}")
        else:
            self.disconnect_counts["completed"] += 1

    def _select_route(self, message: str | bytes) -> str:
        if self._selection_path is not None and isinstance(message, str):
            try:
                value: Any = json.loads(message)
            except (ValueError, RecursionError):
                # Not JSON, or nested past Python's recursion limit (15,000 deep arrays):
                # API Gateway routes a body it cannot select on to $default, whose
                # handler answers invalid_frame; the connection stays open.
                value = None
            for part in self._selection_path:
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and value in self.api.routes and not value.startswith("$"):
                return value
        return "$default"

    async def _route(self, conn: Conn, message: str | bytes) -> None:
        assert conn.ws is not None
        route_key = self._select_route(message)
        route = self.api.routes.get(route_key)
        context = self._base_context(conn, route_key, "MESSAGE")
        context["messageId"] = base64.b64encode(uuid.uuid4().bytes[:9]).decode()
        if route is None or not route.function:
            await self._send_quietly(
                conn, {"message": "Forbidden", "connectionId": conn.connection_id, "requestId": context["requestId"]}
            )
            return
        if isinstance(message, bytes):
            event = {"requestContext": context, "body": base64.b64encode(message).decode(), "isBase64Encoded": True}
        else:
            event = {"requestContext": context, "body": message, "isBase64Encoded": False}
        try:
            result = await self._invoke(route.function, event)
        except Stopping:
            return  # the socket is being closed with 1001
        except Exception:
            # What API Gateway sends when the integration fails.
            await self._send_quietly(
                conn,
                {"message": "Internal server error", "connectionId": conn.connection_id, "requestId": context["requestId"]},
            )
            return
        if route.two_way:
            body = result.get("body") if isinstance(result, dict) and "statusCode" in result else result
            if body is not None and body != "":
                text = body if isinstance(body, str) else json.dumps(body)
                size = len(text.encode("utf-8", "surrogatepass"))
                if size > MAX_MESSAGE_BYTES:
                    # API Gateway does not send a message over 128 KB to a client; the
                    # route's caller gets the failed-integration frame instead (the socket
                    # stays open), and the runtime says why.
                    self.log(f"route {route.key} answered {size} bytes, over the {MAX_MESSAGE_BYTES}-byte message limit: not sent")
                    text = json.dumps(
                        {"message": "Internal server error", "connectionId": conn.connection_id,
                         "requestId": context["requestId"]}
                    )
                await self._send_quietly(conn, text)

    async def _send_quietly(self, conn: Conn, data: str | dict[str, Any]) -> None:
        assert conn.ws is not None
        with contextlib.suppress(ConnectionClosed):
            await conn.ws.send(data if isinstance(data, str) else json.dumps(data))

    # ------------------------------------------------------------------ @connections
    def _live(self, connection_id: str) -> Conn:
        conn = self.connections.get(connection_id)
        if conn is None or conn.closing or conn.ws is None or conn.ws.state is not State.OPEN:
            raise Gone(connection_id)
        return conn

    async def post(self, connection_id: str, data: bytes) -> None:
        if len(data) > MAX_MESSAGE_BYTES:
            raise TooLarge()
        conn = self._live(connection_id)
        assert conn.ws is not None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            payload: str | bytes = data
        else:
            payload = text
        try:
            await conn.ws.send(payload)
        except ConnectionClosed as exc:
            raise Gone(connection_id) from exc

    async def info(self, connection_id: str) -> dict[str, Any]:
        conn = self._live(connection_id)
        return {
            "connectedAt": _iso(conn.connected_at),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
            "lastActiveAt": _iso(conn.last_active),
        }

    async def list_connections(self) -> list[dict[str, Any]]:
        """Local-only introspection (GET /local/connections): what is connected, as whom."""
        return [
            {
                "connectionId": conn.connection_id,
                "connectedAt": _iso(conn.connected_at),
                "lastActiveAt": _iso(conn.last_active),
                "sourceIp": conn.source_ip,
                "principalId": (conn.authorizer or {}).get("principalId"),
                "subprotocol": conn.subprotocol,
            }
            for conn in self.connections.values()
            if not conn.closing
        ]

    async def delete(self, connection_id: str) -> None:
        conn = self._live(connection_id)
        assert conn.ws is not None
        conn.closing = True
        # Not awaited here: a handler deleting the very connection it is serving must
        # not wait for that connection's closing handshake.
        task = asyncio.create_task(conn.ws.close(1000, ""))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)

    def run(self, coroutine: Awaitable[Any], timeout: float = 30) -> Any:
        """Run a coroutine on the gateway's loop from another thread (the HTTP server's)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]


def _identity_present(sources: list[str], conn: Conn) -> bool:
    headers = {k.lower(): v for k, v in conn.headers.items()}
    for source in sources:
        kind, _, name = source.removeprefix("route.request.").partition(".")
        if kind == "header" and not headers.get(name.lower()):
            return False
        if kind == "querystring" and not (conn.query or {}).get(name):
            return False
    return True


def _allows(policy: dict[str, Any]) -> bool:
    statements = (policy.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return "allow" in effects and "deny" not in effects


def _plain(connection: ServerConnection, status: int, body: dict[str, Any]) -> Response:
    response = connection.respond(status, json.dumps(body))
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    return response
