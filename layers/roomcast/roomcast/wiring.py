"""The one place that builds what logic uses, and the one place that forgets it.

A handler asks for `services()` (or `services_for(event)` on the WebSocket API) per
invocation; the clients behind them are cached per execution environment, so a warm
invocation builds only thin objects. `reset_caches()` is what a fresh Lambda execution
environment would be: tests call it between cases (docs/architecture.md, "Wiring").
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from roomcast.dal.store import RoomStore, get_store
from roomcast.settings import get_settings

if TYPE_CHECKING:
    from roomcast.logic.context import Services


def store() -> RoomStore:
    """Only the table: for $connect, which writes one item and must stay light at cold start."""
    return get_store()


def services(endpoint: str | None = None) -> Services:
    """Services for this invocation; `endpoint` is the @connections URL (None: from the
    environment, for functions without a WebSocket request context)."""
    # Imported here, not above: $connect imports this module for store() alone.
    from roomcast.dal.calls import CallStore
    from roomcast.dal.deliveries import DeliveryStore
    from roomcast.dal.endpoints import EndpointStore
    from roomcast.dal.event_deliveries import EventDeliveryStore
    from roomcast.dal.fanout import FanoutStore
    from roomcast.gateway import Gateway, management_endpoint
    from roomcast.logic.context import Services
    from roomcast.queue import EventsQueue, FanoutQueue, JobsQueue, RingTimer
    from roomcast.secret_store import SecretStore

    settings = get_settings()
    store = get_store()
    return Services(
        settings=settings,
        store=store,
        calls=CallStore(store.table, store.client),
        deliveries=DeliveryStore(store.table, store.client),
        fanout=FanoutStore(store.table, store.client),
        fanout_queue=FanoutQueue(settings.fanout_queue_url),
        gateway=Gateway(endpoint or management_endpoint(None, None)),
        jobs=JobsQueue(settings.jobs_queue_url),
        timers=RingTimer(settings.call_timer_queue_url),
        secrets=SecretStore(),
        endpoints=EndpointStore(store.table, store.client),
        event_deliveries=EventDeliveryStore(store.table, store.client),
        events_queue=EventsQueue(settings.events_queue_url),
    )


def services_for(event: dict[str, Any]) -> Services:
    """Services for a WebSocket invocation: fan-out goes back through the API that called."""
    from roomcast.gateway import management_endpoint

    context = event.get("requestContext") or {}
    return services(management_endpoint(context.get("apiId"), context.get("stage")))


def reset_caches() -> None:
    """Forget every per-execution-environment cache: settings, clients, secrets, pools."""
    from aws_lambda_powertools.utilities import parameters

    from roomcast import gateway, queue, settings
    from roomcast.dal import dynamo, store

    settings.reset_settings()
    dynamo.dynamodb_client.cache_clear()
    store.get_store.cache_clear()
    gateway._client.cache_clear()
    queue.reset_caches()
    parameters.clear_caches()
    # Loaded only by the functions that send webhooks; not imported here for the others.
    sender = sys.modules.get("roomcast.webhooks.sender")
    if sender is not None:
        sender.reset_caches()
