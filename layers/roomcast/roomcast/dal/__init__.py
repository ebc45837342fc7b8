"""DynamoDB access behind a small interface: logic never builds a key or an expression."""

from roomcast.dal.store import RoomStore, get_store

__all__ = ["RoomStore", "get_store"]
