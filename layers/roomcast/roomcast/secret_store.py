"""Every secret a function reads or writes, behind one object logic is handed.

Reads go through Powertools parameters (cached per execution environment for
SECRET_MAX_AGE seconds); values are never logged (docs/operations.md).
"""

from __future__ import annotations

# Imported on use: most functions never touch a secret, and the JWT and webhook modules
# are not free to import (cold start).


class SecretStore:
    def jwt_secret(self) -> str:
        from roomcast import auth

        return auth.jwt_secret()

    def admin_api_key(self) -> str:
        from roomcast import auth

        return auth.admin_api_key()

    def room_secret_name(self, room_id: str) -> str:
        from roomcast.webhooks import secrets

        return secrets.room_secret_name(room_id)

    def store_room_secret(self, room_id: str, secret: str) -> str:
        from roomcast.webhooks import secrets

        return secrets.store_room_secret(room_id, secret)

    def webhook_secrets(self, secret_id: str) -> list[str]:
        from roomcast.webhooks import secrets

        return secrets.load_secrets(secret_id)

    def store_endpoint_secrets(self, endpoint_id: str, active: list[str]) -> str:
        from roomcast.webhooks import secrets

        return secrets.store_endpoint_secrets(endpoint_id, active)

    def endpoint_secrets_now(self, secret_id: str) -> list[str]:
        from roomcast.webhooks import secrets

        return secrets.read_secrets_now(secret_id)

    def delete_secret(self, secret_id: str) -> None:
        from roomcast.webhooks import secrets

        secrets.delete_secret(secret_id)
