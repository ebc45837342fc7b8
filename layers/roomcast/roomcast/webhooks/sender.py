"""HTTP delivery of one signed part: requests, pinned to the validated address.

- A Session per worker thread (keep-alive across the parts of a job, no shared state).
- (connect, read) timeouts; redirects are never followed (a 3xx is a failure).
- The receiver's answer is streamed and at most WEBHOOK_RESPONSE_BYTES are read.
- The TCP connection goes to the IP that the SSRF guard validated, while the Host
  header, TLS SNI and certificate check keep the URL's host name: a DNS answer that
  changes after the check cannot point the request somewhere else.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

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


class PinnedHostAdapter(HTTPAdapter):
    """Connects to the URL's (IP) host but verifies TLS against the Host header's name."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        server_name = getattr(request, "roomcast_server_name", None)
        if host_params.get("scheme") == "https" and server_name:
            pool_kwargs["server_hostname"] = server_name
            pool_kwargs["assert_hostname"] = server_name
        return host_params, pool_kwargs


_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc from the environment
        adapter = PinnedHostAdapter(pool_connections=4, pool_maxsize=4, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        _local.session = session
    return session


def reset_caches() -> None:
    _local.__dict__.pop("session", None)


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
) -> SendResult:
    session = _session()
    request = requests.Request("POST", pinned_url(target), data=body, headers={**headers, "Host": host_header(target)})
    prepared = session.prepare_request(request)
    prepared.roomcast_server_name = target.host  # type: ignore[attr-defined]
    started = time.monotonic()
    try:
        response = session.send(
            prepared,
            timeout=(connect_timeout, read_timeout),
            allow_redirects=False,
            stream=True,
            verify=True,
        )
    except requests.exceptions.ConnectTimeout:
        return SendResult(None, _elapsed(started), error="connect_timeout")
    except requests.exceptions.ReadTimeout:
        return SendResult(None, _elapsed(started), error="read_timeout")
    except requests.exceptions.SSLError:
        return SendResult(None, _elapsed(started), error="tls_error")
    except requests.exceptions.ConnectionError as exc:
        refused = "refused" in str(exc).lower()
        return SendResult(None, _elapsed(started), error="connection_refused" if refused else "connection_error")
    except requests.exceptions.RequestException as exc:
        return SendResult(None, _elapsed(started), error=type(exc).__name__)
    try:
        raw = response.raw.read(response_bytes, decode_content=True) if response_bytes else b""
        error = None
    except Exception as exc:  # a receiver that dies mid-answer still answered with a status
        raw, error = b"", f"response_read_failed: {type(exc).__name__}"
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
