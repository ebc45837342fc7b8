"""Token transport and the admin key: ?token=, Sec-WebSocket-Protocol, the echoed subprotocol."""

from __future__ import annotations

import pytest

from roomcast.auth import (
    SUBPROTOCOL,
    api_key_matches,
    chosen_subprotocol,
    mint_token,
    offered_subprotocols,
    token_from_request,
    verify_token,
)
from roomcast.errors import Unauthorized

SECRET = "unit-secret-0123456789abcdef0123456789abcdef"
TOKEN = mint_token(SECRET, "alice", "Alice", 600)[0]


def test_token_from_query():
    assert token_from_request({"token": TOKEN}, {}) == TOKEN
    assert token_from_request({"token": TOKEN}, {"Sec-WebSocket-Protocol": "roomcast.v1, other.x.y"}) == TOKEN


@pytest.mark.parametrize("header", ["Sec-WebSocket-Protocol", "sec-websocket-protocol", "SEC-WEBSOCKET-PROTOCOL"])
def test_token_from_subprotocol_any_header_case(header):
    assert token_from_request(None, {header: f"roomcast.v1, {TOKEN}"}) == TOKEN
    assert token_from_request({}, {header: f"{TOKEN},roomcast.v1"}) == TOKEN


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        (None, None),
        ({}, {}),
        ({"token": ""}, {}),
        ({"other": TOKEN}, {}),
        (None, {"Sec-WebSocket-Protocol": "roomcast.v1"}),
        (None, {"Sec-WebSocket-Protocol": ""}),
        (None, {"Sec-WebSocket-Protocol": "chat, superchat"}),
        (None, {"Authorization": f"Bearer {TOKEN}"}),
    ],
)
def test_no_token(query, headers):
    assert token_from_request(query, headers) is None


def test_offered_subprotocols_trims_and_drops_empties():
    assert offered_subprotocols({"Sec-WebSocket-Protocol": " a , ,b,"}) == ["a", "b"]
    assert offered_subprotocols(None) == []


def test_chosen_subprotocol_prefers_roomcast_and_never_the_token():
    assert chosen_subprotocol({"Sec-WebSocket-Protocol": f"{TOKEN}, {SUBPROTOCOL}"}) == SUBPROTOCOL
    assert chosen_subprotocol({"Sec-WebSocket-Protocol": f"{TOKEN}, chat"}) == "chat"
    assert chosen_subprotocol({"Sec-WebSocket-Protocol": TOKEN}) is None
    assert chosen_subprotocol({"Sec-WebSocket-Protocol": ""}) is None
    assert chosen_subprotocol({}) is None
    assert chosen_subprotocol(None) is None


def test_api_key_matches():
    assert api_key_matches("k-123", "k-123")
    for provided in [None, "", "k-12", "k-1234", "K-123", " k-123"]:
        assert not api_key_matches(provided, "k-123")
    assert api_key_matches("ключ", "ключ")  # non-ASCII keys compare as bytes


def test_minted_token_round_trips():
    token, expires_at = mint_token(SECRET, "bob", "Bob", 120, rooms=["a", "b"], admin=True, now=1_000_000_000)
    assert expires_at == 1_000_000_120
    with pytest.raises(Unauthorized):  # expired long ago
        verify_token(SECRET, token)
    fresh, _ = mint_token(SECRET, "bob", "Bob", 120, rooms=["a", "b"], admin=True)
    identity = verify_token(SECRET, fresh)
    assert (identity.user_id, identity.name, identity.rooms, identity.admin) == ("bob", "Bob", ["a", "b"], True)


def test_loopback_host_names_for_the_local_config_and_demo():
    from roomcast_local.httpserver import is_loopback_host

    for host in ("127.0.0.1", "127.0.0.1:3000", "localhost:3000", "LOCALHOST", "[::1]:80", "[::1]", "app.localhost:1", "127.9.8.7"):
        assert is_loopback_host(host), host
    for host in (None, "", "evil.example", "evil.example:3000", "127.0.0.1.nip.io", "127.0.0.1.evil.example:3000",
                 "10.0.0.1", "[::2]:80", "0.0.0.0:3000", "localhost.evil.example", "127.0.0.256"):
        assert not is_loopback_host(host), host
