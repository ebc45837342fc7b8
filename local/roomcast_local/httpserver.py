"""The local HTTP server: the template's HTTP API routes (payload v2.0) under /api, the
@connections management endpoint, /config.json, and the static client and demo page.

One port serves all of it so the demo page calls the admin API from its own origin.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from roomcast_local import apidocs
from roomcast_local.template import HttpAuthorizer, HttpRoute
from roomcast_local.wsgateway import Gone, TooLarge, WebSocketGateway

API_PREFIX = "/api"
# Authorizer answers cached at most (one per identity, as API Gateway caches them).
AUTH_CACHE_ENTRIES = 1000
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's payload limit
# An HTTP method is a token (RFC 9110); anything else in the request line is a 400.
_METHOD_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$")
# Only GET and HEAD are served outside the API and @connections (the page, the client).
STATIC_METHODS = "GET, HEAD"

InvokeSync = Callable[[str, Any], Any]


@dataclass
class CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str] | None  # None for $default
    params: list[str]
    # Sort key: API Gateway prefers the most specific route — exact paths, then
    # parameters, then greedy {proxy+}, then $default.
    rank: tuple[int, int, int]


def compile_route(route: HttpRoute) -> CompiledRoute:
    if route.path == "$default":
        return CompiledRoute(route, None, [], (3, 0, 0))
    params: list[str] = []
    parts: list[str] = []
    greedy = 0
    for segment in route.path.strip("/").split("/"):
        match = re.fullmatch(r"\{([A-Za-z0-9_.-]+?)(\+?)\}", segment)
        if match:
            params.append(match.group(1))
            if match.group(2):
                greedy = 1
                parts.append(f"(?P<p{len(params) - 1}>.+)")
            else:
                parts.append(f"(?P<p{len(params) - 1}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    pattern = re.compile("^/" + "/".join(parts) + "$") if route.path.strip("/") else re.compile("^/$")
    exact_segments = sum(1 for s in route.path.split("/") if s and not s.startswith("{"))
    return CompiledRoute(route, pattern, params, (greedy + (1 if params else 0), -exact_segments, 0 if route.method != "ANY" else 1))


class HttpApiRouter:
    def __init__(self, routes: list[HttpRoute]) -> None:
        self.routes = sorted((compile_route(r) for r in routes), key=lambda c: c.rank)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        """The route for a request's path as sent (percent-encoded), with its parameters
        decoded once, as API Gateway passes them."""
        for compiled in self.routes:
            route = compiled.route
            if route.method not in (method, "ANY"):
                continue
            if compiled.pattern is None:
                return route, {}
            found = compiled.pattern.match(path)
            if found:
                return route, {name: unquote(found.group(f"p{i}")) for i, name in enumerate(compiled.params)}
        return None


def http_api_event(
    route: HttpRoute,
    path_params: dict[str, str],
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    host: str,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event. As HTTP APIs do, `rawPath` (and
    requestContext.http.path) arrive decoded once: `/users/a%40b` is `/users/a@b`."""
    raw_path = unquote(raw_path, errors="strict")
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    now = int(time.time() * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": route.api.lower(),
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:9]).decode(),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now / 1000)),
            "timeEpoch": now,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            # HTTP API joins repeated parameters with commas.
            query[key] = f"{query[key]},{value}" if key in query else value
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body:
        content_type = merged.get("content-type", "")
        textual = content_type.startswith("text/") or "json" in content_type or "xml" in content_type or "form-urlencoded" in content_type
        try:
            decoded = body.decode("utf-8")
        except UnicodeDecodeError:
            textual = False
        if textual:
            event["body"] = decoded
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def _authorizer_answer(answer: Any, simple: bool) -> tuple[bool, dict[str, Any]]:
    """(allowed, context) from a payload 2.0 authorizer's result; ValueError if malformed."""
    if not isinstance(answer, dict):
        raise ValueError("authorizer answer is not an object")
    context = answer.get("context") or {}
    if simple:
        if not isinstance(answer.get("isAuthorized"), bool):
            raise ValueError("isAuthorized is not a boolean")
        return answer["isAuthorized"], context
    statements = ((answer.get("policyDocument") or {}).get("Statement")) or []
    effects = {str(st.get("Effect")) for st in statements if isinstance(st, dict)}
    return ("Allow" in effects and "Deny" not in effects), context


def http_api_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """HTTP API v2's reading of a function's result."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(v)) for v in values)
        headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
        body = result.get("body")
        if body is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(body)
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
        return status, headers, data
    # No statusCode: a 200 with the JSON of the result as its body.
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode()


class LocalHttpServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        routes: list[HttpRoute],
        invoke: InvokeSync,
        gateway: WebSocketGateway | None,
        stage: str,
        static_root: Path,
        config: Callable[[], dict[str, Any]],
        log: Callable[[str], None],
    ) -> None:
        self.router = HttpApiRouter(routes)
        self._auth_cache: dict[tuple[str, ...], tuple[float, bool, dict[str, Any]]] = {}
        self._auth_lock = threading.Lock()
        self.invoke = invoke
        self.gateway = gateway
        self.stage = stage
        self.static_root = static_root.resolve()
        # Swagger UI at /api/docs serves the repository's generated admin API document.
        self.openapi_file = self.static_root.parent / "docs" / "openapi.json"
        self.config = config
        self.log = log
        handler = self._handler_class()
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        # Keep-alive connections from warm workers would hold server_close() otherwise.
        self.server.block_on_close = False
        self.server.handle_error = _quiet_on_reset(self.server.handle_error)  # type: ignore[method-assign]
        self.host = host
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def authorize(self, authorizer: HttpAuthorizer, event: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """Run a route's Lambda authorizer as API Gateway does; None lets the request through
        (with the authorizer's context in requestContext.authorizer.lambda), else the refusal.

        A missing identity source is 401 without invoking it; a "no" is 403; a failing or
        malformed authorizer is 500. Answers are cached per identity for ReauthorizeEvery
        seconds, as API Gateway caches them (so a changed key takes that long to matter).
        """
        identity = [event["headers"].get(name) for name in authorizer.headers]
        if any(value is None or value == "" for value in identity):
            return 401, {"message": "Unauthorized"}
        cache_key = (authorizer.name, *(str(v) for v in identity))
        ttl = float(authorizer.cache_seconds or 0)
        now = time.monotonic()
        with self._auth_lock:
            cached = self._auth_cache.get(cache_key) if ttl > 0 else None
        if cached is not None and cached[0] > now:
            allowed, context = cached[1], cached[2]
        else:
            request = {**event, "type": "REQUEST", "identitySource": identity,
                       "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:{event['requestContext']['apiId']}"
                                   f"/$default/{event['requestContext']['http']['method']}{event['rawPath']}"}
            try:
                answer = self.invoke(authorizer.function, request)
                allowed, context = _authorizer_answer(answer, authorizer.simple_responses)
            except Exception:
                self.log(f"authorizer {authorizer.name} failed")
                return 500, {"message": "Internal Server Error"}
            if ttl > 0:
                with self._auth_lock:
                    if len(self._auth_cache) >= AUTH_CACHE_ENTRIES:
                        # Many distinct keys (a scan of wrong ones): drop what has expired,
                        # and everything if that is not enough, so memory stays bounded.
                        live = {k: v for k, v in self._auth_cache.items() if v[0] > now}
                        self._auth_cache = live if len(live) < AUTH_CACHE_ENTRIES else {}
                    self._auth_cache[cache_key] = (now + ttl, allowed, context)
        if not allowed:
            return 403, {"message": "Forbidden"}
        event["requestContext"]["authorizer"] = {"lambda": context}
        return None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "roomcast-local"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are logged by the functions they reach

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                names = {k.lower() for k, _ in headers}
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                if "content-type" not in names and body:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> None:
                self._send(status, [("Content-Type", "application/json"), *(headers or [])], json.dumps(body).encode())

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                """Every refusal of the HTTP layer itself (a malformed request line, a header
                too long, a URI too long) in JSON, as API Gateway answers: never an HTML page."""
                self.close_connection = True
                body = json.dumps({"message": message or HTTPStatus(code).phrase}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Connection", "close")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(body)

            def _refuse_body(self, status: int, message: str) -> None:
                self._json(status, {"message": message})
                self.close_connection = True  # the rest of the body is unread

            def _body(self) -> bytes | None:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self._chunked_body()
                declared = (self.headers.get("Content-Length") or "0").strip()
                if not declared.isdigit():
                    self._refuse_body(400, "Bad Request: Content-Length is not a number")
                    return None
                length = int(declared)
                if length > MAX_BODY_BYTES:
                    self._refuse_body(413, "Request Entity Too Large")
                    return None
                return self.rfile.read(length) if length else b""

            def _chunked_body(self) -> bytes | None:
                data = bytearray()
                try:
                    while True:
                        size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return bytes(data)
                        if size < 0 or len(data) + size > MAX_BODY_BYTES:
                            self._refuse_body(413, "Request Entity Too Large")
                            return None
                        data += self.rfile.read(size)
                        self.rfile.readline(3)
                except ValueError:
                    self._refuse_body(400, "Bad Request: malformed chunked body")
                    return None

            def _dispatch(self) -> None:
                if not _METHOD_TOKEN.fullmatch(self.command or ""):
                    self.send_error(400, "Bad Request: the method is not an HTTP token")
                    return
                split = urlsplit(self.path)
                path = split.path
                connections = re.fullmatch(rf"(?:/{re.escape(outer.stage)})?/@connections/([^/]+)", path)
                try:
                    if connections:
                        self._connections(unquote(connections.group(1)))
                    elif apidocs.is_docs_path(path) and self.command in ("GET", "HEAD"):
                        self._send(*apidocs.answer(path, outer.openapi_file, API_PREFIX))
                    elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                        self._http_api(path[len(API_PREFIX):] or "/", split.query)
                    elif self.command in ("GET", "HEAD"):
                        self._static(path, split.query)
                    else:
                        self._json(405, {"message": "Method Not Allowed"}, [("Allow", STATIC_METHODS)])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def __getattr__(self, name: str) -> Any:
                # BaseHTTPRequestHandler looks up do_<METHOD>; every method (TRACE, CONNECT,
                # an unknown token) is dispatched like the others, so no request meets its
                # HTML 501 page: the API's own routes answer 405 with Allow.
                if name.startswith("do_"):
                    return self._dispatch
                raise AttributeError(name)

            # ---------------------------------------------------------- @connections
            def _connections(self, connection_id: str) -> None:
                gateway = outer.gateway
                body = self._body() if self.command == "POST" else b""
                if body is None:
                    return
                gone = [("x-amzn-ErrorType", "GoneException")]
                if gateway is None:
                    self._json(410, {"message": None}, gone)
                    return
                try:
                    if self.command == "POST":
                        gateway.run(gateway.post(connection_id, body))
                        self._send(200, [], b"")
                    elif self.command == "GET":
                        self._json(200, gateway.run(gateway.info(connection_id)))
                    elif self.command == "DELETE":
                        gateway.run(gateway.delete(connection_id))
                        self._send(204, [], b"")
                    else:
                        self._json(405, {"message": "Method Not Allowed"}, [("Allow", "DELETE, GET, POST")])
                except Gone:
                    self._json(410, {"message": None}, gone)
                except TooLarge:
                    self._json(413, {"message": "Message too long"}, [("x-amzn-ErrorType", "PayloadTooLargeException")])

            # ---------------------------------------------------------- HTTP API
            def _http_api(self, path: str, query: str) -> None:
                body = self._body()
                if body is None:
                    return
                try:
                    decoded = unquote(path, errors="strict")
                except UnicodeDecodeError:
                    decoded = None
                if decoded is None or decoded.count("/") != path.count("/"):
                    # An encoded "/" (or bytes that are not UTF-8) in the path: no route can
                    # take it once decoded, so it is not found, as at API Gateway.
                    self._json(404, {"message": "Not Found"})
                    return
                matched = outer.router.match(self.command, path)
                if matched is None:
                    self._json(404, {"message": "Not Found"})
                    return
                route, params = matched
                event = http_api_event(
                    route,
                    params,
                    self.command,
                    path,
                    query,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                    self.headers.get("Host", f"{outer.host}:{outer.port}"),
                )
                if route.authorizer is not None:
                    refused = outer.authorize(route.authorizer, event)
                    if refused is not None:
                        self._json(*refused)
                        return
                try:
                    result = outer.invoke(route.function, event)
                except Exception:
                    self._json(500, {"message": "Internal Server Error"})
                    return
                try:
                    status, headers, data = http_api_response(result)
                except (TypeError, ValueError):
                    self._json(500, {"message": "Internal Server Error"})
                    return
                self._send(status, headers, data)

            # ---------------------------------------------------------- static
            def _static(self, path: str, query: str = "") -> None:
                if not is_loopback_host(self.headers.get("Host")):
                    # /config.json carries the admin key: a page on another origin whose
                    # name resolves to 127.0.0.1 (DNS rebinding) sends its own Host.
                    self._json(403, {"message": "Forbidden: the local runtime answers loopback Host names only"})
                    return
                if path == "/local/connections":
                    found = outer.gateway.run(outer.gateway.list_connections()) if outer.gateway else []
                    self._json(200, {"connections": found})
                    return
                if path == "/config.json":
                    self._send(200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                               json.dumps(outer.config()).encode())
                    return
                if path == "/":
                    # The demo page lives at /client/demo/ so its relative imports of the
                    # client (../roomcast.js) resolve as they do on disk.
                    if (outer.static_root / "demo" / "index.html").is_file():
                        # Keep ?room=&user= so shared demo links still prefill and join.
                        location = "/client/demo/" + (f"?{query}" if query else "")
                        self._send(302, [("Location", location)], b"")
                    else:
                        self._send(200, [("Content-Type", "text/html; charset=utf-8")], _placeholder(outer.config()))
                    return
                if path == "/client":
                    self._send(301, [("Location", "/client/")], b"")
                    return
                if not path.startswith("/client/"):
                    self._json(404, {"message": "Not Found"})
                    return
                target = (outer.static_root / unquote(path[len("/client/"):])).resolve()
                if not target.is_relative_to(outer.static_root):
                    self._json(404, {"message": "Not Found"})
                    return
                if target.is_dir():
                    if not path.endswith("/"):
                        self._send(301, [("Location", path + "/")], b"")
                        return
                    target = target / "index.html"
                if not target.is_file():
                    self._json(404, {"message": "Not Found"})
                    return
                kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                if target.suffix in (".js", ".mjs"):
                    kind = "text/javascript"
                if kind.startswith("text/") or kind in ("application/json",):
                    kind += "; charset=utf-8"
                self._send(200, [("Content-Type", kind), ("Cache-Control", "no-cache")], target.read_bytes())

        return Handler


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback_host(host: str | None) -> bool:
    """True for a Host header naming this machine by loopback: localhost, 127.0.0.0/8 or
    [::1], with any port. Anything else (a rebinding name, no Host at all) is refused."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and int(p) < 256 for p in parts)


def _placeholder(config: dict[str, Any]) -> bytes:
    rows = "".join(
        f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>" for k, v in config.items() if isinstance(v, str)
    )
    return (
        "<!doctype html><meta charset=utf-8><title>roomcast local</title>"
        f"<h1>roomcast local runtime</h1><p>client/demo/index.html is not there yet.</p><ul>{rows}</ul>"
    ).encode()


def _quiet_on_reset(handle_error: Any) -> Any:
    """A worker killed mid-request (a timeout, the stop) resets its connection: not a
    server error worth a traceback."""

    def handle(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        handle_error(request, client_address)

    return handle
