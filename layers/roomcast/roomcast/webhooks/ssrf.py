"""SSRF guard for webhook endpoints.

An endpoint is accepted only when it is https and every address its host resolves to
is global: no loopback, private (RFC 1918), link-local (169.254/16 - the metadata
service), CGNAT (100.64/10), unspecified, multicast, reserved, ULA (fc00::/7), nor an
IPv4-mapped/translated IPv6 form of those. It is checked when a room is created and
again right before each send, and the sender connects to the address validated here
(the IP is pinned), so a DNS answer that changes between check and connect (rebinding)
cannot redirect the request.

An internationalised host name is checked, resolved and sent in its IDNA (punycode)
form - the URL, the Host header and TLS all use it; a name that has no IDNA form is
refused like any other unsafe URL.

WEBHOOK_ALLOW_LOOPBACK (tests and the local runtime only; the template never sets it)
also allows http and 127.0.0.0/8 / ::1 - and nothing else that is not global.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from roomcast.errors import UnsafeUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class Target:
    """A validated endpoint: where to connect (pinned address) and what to call it."""

    url: str
    scheme: str
    host: str  # the URL's host in ASCII (IDNA) form: Host header, TLS SNI and certificate name
    port: int
    address: str  # the validated IP the sender connects to


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    # IPv4-compatible (deprecated ::a.b.c.d) and NAT64 forms carry the IPv4 in the low bits.
    if ip in ipaddress.ip_network("::/96") or ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and ip != ipaddress.IPv6Address("::1"):
            return inner.is_loopback
    return ip.is_loopback


def address_allowed(ip: IPAddress, allow_loopback: bool = False) -> bool:
    if allow_loopback and is_loopback(ip):
        return True
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            candidates.append(inner)
    for candidate in candidates:
        if not candidate.is_global or candidate.is_multicast or candidate.is_reserved:
            return False
        if candidate.is_private or candidate.is_link_local or candidate.is_unspecified:
            return False
        if any(candidate in net for net in _BLOCKED_NETWORKS if net.version == candidate.version):
            return False
    return True


def ascii_host(host: str) -> str:
    """The host as DNS and HTTP know it: an IP literal or ASCII name as is, else IDNA."""
    if host.isascii():
        return host
    import idna  # a dependency of requests; only needed for non-ASCII names

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise UnsafeUrl("the webhook host is not a valid internationalised domain name") from exc


def _split(url: str, allow_loopback: bool) -> tuple[str, str, int]:
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl("the webhook URL is missing or too long")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("the webhook URL is not valid") from exc
    scheme = parts.scheme.lower()
    allowed_schemes = ("https", "http") if allow_loopback else ("https",)
    if scheme not in allowed_schemes:
        raise UnsafeUrl("the webhook URL must use https")
    if parts.username or parts.password:
        raise UnsafeUrl("the webhook URL must not carry credentials")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("the webhook URL has no host")
    return scheme, ascii_host(host), port or (443 if scheme == "https" else 80)


def _ascii_url(url: str, host: str) -> str:
    """`url` with its host replaced by the ASCII form (port, path and query kept)."""
    parts = urlsplit(url)
    if parts.hostname == host:
        return url
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl("the webhook host does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 scope id
        ip = ipaddress.ip_address(raw)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise UnsafeUrl("the webhook host does not resolve")
    return addresses


def check_url(url: str, allow_loopback: bool = False) -> Target:
    """Validate a webhook URL now; raises UnsafeUrl. Every resolved address must pass."""
    scheme, host, port = _split(url, allow_loopback)
    addresses = resolve(host, port)
    for ip in addresses:
        if not address_allowed(ip, allow_loopback):
            raise UnsafeUrl("the webhook URL resolves to an address that is not public")
        if scheme == "http" and not is_loopback(ip):
            # http is a local-runtime convenience, never a way to reach the internet in clear.
            raise UnsafeUrl("the webhook URL must use https")
    clean = url.strip()
    return Target(url=_ascii_url(clean, host), scheme=scheme, host=host, port=port, address=str(addresses[0]))
