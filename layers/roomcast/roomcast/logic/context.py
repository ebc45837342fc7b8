"""What a logic function is given: who is calling, and the services it may use.

Logic never builds a dependency: `roomcast.wiring` builds `Services` from the settings
of the function that runs (docs/architecture.md, "Wiring"); tests hand in fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from roomcast.models.records import Identity

if TYPE_CHECKING:
    from roomcast.dal.calls import CallStore
    from roomcast.dal.deliveries import DeliveryStore
    from roomcast.dal.endpoints import EndpointStore
    from roomcast.dal.event_deliveries import EventDeliveryStore
    from roomcast.dal.fanout import FanoutStore
    from roomcast.dal.store import RoomStore
    from roomcast.gateway import Gateway
    from roomcast.queue import EventsQueue, FanoutQueue, JobsQueue, RingTimer
    from roomcast.secret_store import SecretStore
    from roomcast.settings import Settings


@dataclass(frozen=True)
class Caller:
    connection_id: str
    identity: Identity


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: RoomStore
    calls: CallStore
    deliveries: DeliveryStore
    # The split fan-out's ranges, job markers and broadcast records, and its queue of
    # range jobs (an empty URL in functions that never split: they post inline).
    fanout: FanoutStore
    fanout_queue: FanoutQueue
    gateway: Gateway
    # Delivery jobs: sent by close and replay; visibility and DLQ moves by the delivery function.
    jobs: JobsQueue
    timers: RingTimer
    secrets: SecretStore
    # Events and endpoints (issue 15). Defaults only for the unit tests' fakes, which never
    # reach them; wiring.services() always builds all three.
    endpoints: EndpointStore = None  # type: ignore[assignment]
    event_deliveries: EventDeliveryStore = None  # type: ignore[assignment]
    events_queue: EventsQueue = None  # type: ignore[assignment]
