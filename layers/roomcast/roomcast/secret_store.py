"""Every secret a function reads or writes, behind one object logic is handed.

Reads go through Powertools parameters (cached per execution environment for
SECRET_MAX_AGE seconds); values are never logged (docs/operations.md).
"""

from __future__ import annotations

from roomcast import auth
from roomcast.webhooks import secrets as webhook_secrets


class SecretStore:
    def jwt_secret(self) -> str:
        return auth.jwt_secret()

    def admin_api_key(self) -> str:
        return auth.admin_api_key()

    def room_secret_name(self, room_id: str) -> str:
        return webhook_secrets.room_secret_name(room_id)

    def store_room_secret(self, room_id: str, secret: str) -> str:
        return webhook_secrets.store_room_secret(room_id, secret)

    def webhook_secrets(self, secret_id: str) -> list[str]:
        return webhook_secrets.load_secrets(secret_id)
