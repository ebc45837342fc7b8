"""The admin HTTP API as the CLI uses it: replay a room's webhook, mint a token.

The API key goes in the X-Api-Key header and nowhere else: never printed, never in an
error message, never in a URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import requests


class AdminError(Exception):
    def __init__(self, message: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AdminClient:
    def __init__(
        self,
        api: str,
        key: str,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api.startswith(("http://", "https://")):
            raise AdminError("--api must be an http(s) URL")
        self.api = api.rstrip("/")
        self._key = key
        self.timeout = timeout
        self.session = session or requests.Session()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self.session.request(
                method,
                self.api + path,
                json=body,
                headers={"x-api-key": self._key, "accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise AdminError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not 200 <= response.status_code < 300:
            code = payload.get("code") if isinstance(payload, dict) else None
            message = payload.get("message") if isinstance(payload, dict) else None
            detail = f"{code}: {message}" if code else (response.text[:200] or response.reason)
            raise AdminError(
                f"{method} {path} -> HTTP {response.status_code} ({detail})",
                response.status_code,
                code,
            )
        if payload is None:
            raise AdminError(f"{method} {path} -> HTTP {response.status_code}, not JSON")
        return payload

    def deliveries(self, room_id: str) -> list[dict[str, Any]]:
        payload = self._request("GET", f"/rooms/{quote(room_id, safe='')}/deliveries")
        items = payload.get("deliveries", []) if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise AdminError("unexpected deliveries answer")
        return [i for i in items if isinstance(i, dict)]

    def latest_delivery(self, room_id: str) -> str:
        items = [i for i in self.deliveries(room_id) if i.get("delivery_id")]
        if not items:
            raise AdminError(f"room {room_id} has no deliveries to replay")
        # created_at is RFC 3339 UTC and delivery ids are time-ordered: both sort as text.
        latest = max(items, key=lambda i: (str(i.get("created_at") or ""), str(i["delivery_id"])))
        return str(latest["delivery_id"])

    def replay(self, room_id: str, delivery_id: str) -> dict[str, Any]:
        path = f"/rooms/{quote(room_id, safe='')}/deliveries/{quote(delivery_id, safe='')}/replay"
        payload = self._request("POST", path, {})
        return payload if isinstance(payload, dict) else {"result": payload}

    # ---- event endpoints (docs/admin-api.md, "Event endpoints")
    def endpoints(self) -> list[dict[str, Any]]:
        payload = self._request("GET", "/endpoints")
        return list(payload.get("endpoints", [])) if isinstance(payload, dict) else []

    def endpoint_deliveries(self, endpoint_id: str, status: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """Every page of the endpoint's batches (optionally in one status)."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {"limit": str(limit), **({"status": status} if status else {}),
                     **({"cursor": cursor} if cursor else {})}
            path = f"/endpoints/{quote(endpoint_id, safe='')}/deliveries?{urlencode(query)}"
            payload = self._request("GET", path)
            found.extend(payload.get("deliveries", []))
            cursor = payload.get("next_cursor")
            if not cursor:
                return found

    def recover(self, endpoint_id: str, since: str) -> dict[str, Any]:
        payload = self._request("POST", f"/endpoints/{quote(endpoint_id, safe='')}/recover", {"since": since})
        return payload if isinstance(payload, dict) else {"result": payload}

    def mint_token(
        self,
        user_id: str,
        name: str | None = None,
        rooms: list[str] | None = None,
        admin: bool = False,
        ttl_seconds: int | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"user_id": user_id, "admin": admin}
        if name is not None:
            body["name"] = name
        if rooms is not None:
            body["rooms"] = rooms
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        payload = self._request("POST", "/tokens", body)
        if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
            raise AdminError("the token answer has no token")
        return payload
