"""HTTP delivery of one signed part: requests, pinned to the validated address.

- One wall-clock deadline per attempt covers connect, TLS, the answer's headers and the
  capped body together: a watchdog shuts the attempt's sockets down when it passes, so a
  receiver that drips its answer a byte at a time cannot hold an attempt past it
  (per-read timeouts alone restart with every byte). Every attempt opens its own
  connection, so every socket it uses is one the watchdog knows.
- (connect, read) timeouts inside that deadline; redirects are never followed (a 3xx is
  a failure).
- The receiver's answer is streamed and at most WEBHOOK_RESPONSE_BYTES are read.
- The TCP connection goes to the IP that the SSRF guard validated, while the Host
  header, TLS SNI and certificate check keep the URL's host name: a DNS answer that
  changes after the check cannot point the request somewhere else.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from roomcast.webhooks.ssrf import Target


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    latency_ms: int
    error: str | None = None
    response: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Deadline:
    """The wall-clock end of one attempt: at it, every socket of the attempt is shut down."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(0.001, self.ends_at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/connect in the sending thread


_local = threading.local()  # the deadline of the attempt this thread is sending


class _WatchedConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        deadline: Deadline | None = getattr(_local, "deadline", None)
        if deadline is not None:
            deadline.watch(sock)
        return sock


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class PinnedHostAdapter(HTTPAdapter):
    """Connects to the URL's (IP) host but verifies TLS against the Host header's name;
    its sockets are watched by the current attempt's Deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        server_name = getattr(request, "roomcast_server_name", None)
        if host_params.get("scheme") == "https" and server_name:
            pool_kwargs["server_hostname"] = server_name
            pool_kwargs["assert_hostname"] = server_name
        return host_params, pool_kwargs


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc from the environment
    adapter = PinnedHostAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def reset_caches() -> None:
    """Nothing is cached across attempts (kept for the tests' cache reset)."""


def pinned_url(target: Target) -> str:
    parts = urlsplit(target.url)
    ip = ipaddress.ip_address(target.address)
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    default_port = 443 if target.scheme == "https" else 80
    netloc = host if target.port == default_port else f"{host}:{target.port}"
    return urlunsplit((target.scheme, netloc, parts.path or "/", parts.query, ""))


def host_header(target: Target) -> str:
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default_port else f"{host}:{target.port}"


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    response_bytes: int,
    deadline_seconds: float | None = None,
) -> SendResult:
    """One attempt; it ends by `deadline_seconds` (default: connect + read timeouts)."""
    limit = deadline_seconds if deadline_seconds is not None else connect_timeout + read_timeout
    started = time.monotonic()
    with Deadline(limit) as deadline, _session() as session:
        _local.deadline = deadline
        try:
            return _send(session, deadline, target, body, headers, connect_timeout, read_timeout, response_bytes, started)
        finally:
            _local.deadline = None


def _send(
    session: requests.Session,
    deadline: Deadline,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    response_bytes: int,
    started: float,
) -> SendResult:
    request = requests.Request("POST", pinned_url(target), data=body, headers={**headers, "Host": host_header(target)})
    prepared = session.prepare_request(request)
    prepared.roomcast_server_name = target.host  # type: ignore[attr-defined]

    left = deadline.remaining()
    # A socket timeout cut down to the time left is the deadline firing, even when it
    # beats the watchdog by a few milliseconds.
    connect_cut, read_cut = connect_timeout >= left, read_timeout >= left

    def failed(error: str, cut: bool = False) -> SendResult:
        expired = deadline.expired or cut
        return SendResult(None, _elapsed(started), error="deadline_exceeded" if expired else error)

    try:
        response = session.send(
            prepared,
            timeout=(min(connect_timeout, left), min(read_timeout, left)),
            allow_redirects=False,
            stream=True,
            verify=True,
        )
    except requests.exceptions.ConnectTimeout:
        return failed("connect_timeout", connect_cut)
    except requests.exceptions.ReadTimeout:
        return failed("read_timeout", read_cut)
    except requests.exceptions.SSLError:
        return failed("tls_error")
    except requests.exceptions.ConnectionError as exc:
        return failed("connection_refused" if "refused" in str(exc).lower() else "connection_error")
    except requests.exceptions.RequestException as exc:
        return failed(type(exc).__name__)
    try:
        raw = response.raw.read(response_bytes, decode_content=True) if response_bytes else b""
        error = None
    except Exception as exc:  # a receiver that dies mid-answer still answered with a status
        raw = b""
        error = "deadline_exceeded" if deadline.expired else f"response_read_failed: {type(exc).__name__}"
    finally:
        response.close()
    latency = _elapsed(started)
    text = raw.decode("utf-8", "replace") if raw else None
    if error is None and not 200 <= response.status_code < 300:
        error = f"http_{response.status_code}"
    return SendResult(
        response.status_code,
        latency,
        error=error,
        response=text,
        retry_after=response.headers.get("retry-after"),
    )


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
