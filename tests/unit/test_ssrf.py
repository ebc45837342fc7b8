"""SSRF guard: every resolved address must be global; loopback only by the test/local
setting; names are resolved (socket.getaddrinfo is faked: no network)."""

from __future__ import annotations

import socket

import pytest

from roomcast.errors import UnsafeUrl
from roomcast.webhooks import ssrf

REFUSED = [
    "127.0.0.1", "127.8.9.10", "::1",                       # loopback
    "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1",  # RFC 1918
    "169.254.10.10", "fe80::1",                              # link-local
    "169.254.169.254", "fd00:ec2::254",                      # metadata (IPv4, IPv6 ULA)
    "100.64.0.1", "100.127.255.254",                         # CGNAT
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1",  # IPv4-mapped
    "0.0.0.0", "::",                                         # unspecified
    "224.0.0.1", "ff02::1",                                  # multicast
    "240.0.0.1", "255.255.255.255",                          # reserved / broadcast
    "fc00::1", "fdff::1",                                    # ULA
    "192.0.2.1", "198.51.100.7", "203.0.113.9", "2001:db8::1",  # documentation
    "198.18.0.1",                                            # benchmarking
    "2002:a00:1::",                                          # 6to4 wrapping 10.0.0.1
    "64:ff9b::a9fe:a9fe",                                    # NAT64 of 169.254.169.254
]  # fmt: skip
ALLOWED = ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"]


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror("no such name")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_are_refused(address, monkeypatch):
    literal = f"[{address}]" if ":" in address else address
    monkeypatch.setattr(socket, "getaddrinfo", _literal_only)
    with pytest.raises(UnsafeUrl):
        ssrf.check_url(f"https://{literal}/hook")


@pytest.mark.parametrize("address", REFUSED)
def test_a_name_resolving_to_a_refused_address_is_refused(address, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": [address]})
    with pytest.raises(UnsafeUrl):
        ssrf.check_url("https://hooks.example.com/hook")


@pytest.mark.parametrize("address", REFUSED[:6])
def test_one_bad_address_among_good_ones_is_enough(address, monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.215.14", address]})
    with pytest.raises(UnsafeUrl):
        ssrf.check_url("https://mixed.example.com/")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass_and_are_pinned(address, monkeypatch):
    fake_dns(monkeypatch, {"ok.example.com": [address]})
    target = ssrf.check_url("https://ok.example.com:8443/in?x=1")
    assert (target.host, target.port, target.address, target.scheme) == ("ok.example.com", 8443, address, "https")


@pytest.mark.parametrize("url", ["http://ok.example.com/", "ftp://ok.example.com/", "https://u:p@ok.example.com/", "https:///nohost", "not a url", "https://" + "a" * 3000 + ".com/"])
def test_bad_shapes_are_refused(url, monkeypatch):
    fake_dns(monkeypatch, {"ok.example.com": ["93.184.215.14"]})
    with pytest.raises(UnsafeUrl):
        ssrf.check_url(url)


def test_unresolvable_host_is_refused(monkeypatch):
    fake_dns(monkeypatch, {})
    with pytest.raises(UnsafeUrl):
        ssrf.check_url("https://nowhere.invalid/")


def test_loopback_setting_allows_loopback_only(monkeypatch):
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1", "::1"], "lan.example": ["192.168.1.10"],
                           "meta.example": ["169.254.169.254"], "public.example": ["93.184.215.14"]})
    assert ssrf.check_url("http://localhost:8080/h", allow_loopback=True).address == "127.0.0.1"
    for host in ("lan.example", "meta.example"):
        with pytest.raises(UnsafeUrl):
            ssrf.check_url(f"http://{host}/h", allow_loopback=True)
    # http is for loopback only, even with the setting on.
    with pytest.raises(UnsafeUrl):
        ssrf.check_url("http://public.example/h", allow_loopback=True)
    with pytest.raises(UnsafeUrl):
        ssrf.check_url("http://localhost:8080/h")  # setting off: refused


def test_the_sender_connects_to_the_validated_address(monkeypatch):
    from roomcast.webhooks.sender import host_header, pinned_url

    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.215.14"], "v6.example.com": ["2606:4700::1"]})
    target = ssrf.check_url("https://hooks.example.com/in?a=1")
    assert pinned_url(target) == "https://93.184.215.14/in?a=1"
    assert host_header(target) == "hooks.example.com"
    target6 = ssrf.check_url("https://v6.example.com:8443/")
    assert pinned_url(target6) == "https://[2606:4700::1]:8443/" and host_header(target6) == "v6.example.com:8443"


def test_tls_is_checked_against_the_host_name_not_the_ip():
    import requests

    from roomcast.webhooks.sender import PinnedHostAdapter

    adapter = PinnedHostAdapter()
    prepared = requests.Request("POST", "https://93.184.215.14/in", headers={"Host": "hooks.example.com"}).prepare()
    prepared.roomcast_server_name = "hooks.example.com"
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, True)
    assert host_params["host"] == "93.184.215.14"
    assert pool_kwargs["server_hostname"] == "hooks.example.com"
    assert pool_kwargs["assert_hostname"] == "hooks.example.com"


_real_getaddrinfo = socket.getaddrinfo


def _literal_only(host, port, *args, **kwargs):
    import ipaddress

    ipaddress.ip_address(host)  # a literal resolves to itself; anything else would be DNS
    return _real_getaddrinfo(host, port, *args, **kwargs)


def test_an_idn_host_is_checked_and_targeted_in_its_idna_form(monkeypatch):
    fake_dns(monkeypatch, {"xn--e1afmkfd.xn--80akhbyknj4f": ["93.184.215.14"]})  # only the IDNA name resolves
    target = ssrf.check_url("https://пример.испытание:8443/hooks?x=1")
    assert target.host == "xn--e1afmkfd.xn--80akhbyknj4f"
    assert target.url == "https://xn--e1afmkfd.xn--80akhbyknj4f:8443/hooks?x=1"
    assert target.address == "93.184.215.14"
    from roomcast.webhooks import sender

    assert sender.host_header(target) == "xn--e1afmkfd.xn--80akhbyknj4f:8443"
    assert sender.pinned_url(target) == "https://93.184.215.14:8443/hooks?x=1"


def test_an_idn_host_resolving_to_a_private_address_is_still_refused(monkeypatch):
    fake_dns(monkeypatch, {"xn--e1afmkfd.xn--80akhbyknj4f": ["10.0.0.8"]})
    with pytest.raises(UnsafeUrl):
        ssrf.check_url("https://пример.испытание/hooks")


@pytest.mark.parametrize("host", ["exa\u200dmple.com", "a\u2028b.example", "\u0300lead.example"])
def test_a_host_without_an_idna_form_is_refused(host, monkeypatch):
    fake_dns(monkeypatch, {})
    with pytest.raises(UnsafeUrl) as refused:
        ssrf.check_url(f"https://{host}/hooks")
    assert "internationalised" in refused.value.message
