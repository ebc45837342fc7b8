"""The `signal` route: WebRTC call signaling (invite, accept, reject, hangup, offer,
answer, ice-candidate), relayed to the named user's connections in the same room."""

from __future__ import annotations

from typing import Any

from roomcast.logic import signaling
from roomcast.models.signaling import SIGNAL_ACTIONS, SIGNAL_FRAME_ADAPTER
from roomcast.observability import logger, metrics
from roomcast.settings import SignalSettings, configure
from roomcast.ws import run_action

configure(SignalSettings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, SIGNAL_FRAME_ADAPTER, SIGNAL_ACTIONS, signaling.handle_signal)
