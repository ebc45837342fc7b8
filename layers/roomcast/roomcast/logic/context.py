"""What a logic function is given: who is calling, and the services it may use."""

from __future__ import annotations

from dataclasses import dataclass

from roomcast.dal.store import RoomStore
from roomcast.gateway import Gateway
from roomcast.models.records import Identity


@dataclass(frozen=True)
class Caller:
    connection_id: str
    identity: Identity


@dataclass(frozen=True)
class Services:
    store: RoomStore
    gateway: Gateway
