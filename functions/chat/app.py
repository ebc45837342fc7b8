"""Chat routes: join, leave, send, history, typing, ping, close, inbox, and $default (unknown actions)."""

from __future__ import annotations

from typing import Any

from roomcast.logic import chat, closing, messaging, moderation
from roomcast.logic.context import Caller, Services
from roomcast.models.frames import CHAT_ACTIONS, CHAT_FRAME_ADAPTER, MODERATION_ACTIONS
from roomcast.observability import logger, metrics
from roomcast.settings import ChatSettings, configure
from roomcast.ws import run_action

configure(ChatSettings)

_ACTIONS = {
    "join": chat.join,
    "leave": chat.leave,
    "send": chat.send,
    "history": chat.history,
    "typing": chat.typing,
    "ping": lambda services, caller, frame: chat.ping(frame),
    "close": closing.close_action,
    "inbox": messaging.inbox,
    # Moderators and room admins only (logic/moderation.py checks on every frame).
    **dict.fromkeys(MODERATION_ACTIONS, moderation.moderate_action),
}
# The frame union (models/frames.py) owns the action names: a table that drifts from it
# fails this function's cold start, not a user's frame.
if set(_ACTIONS) != CHAT_ACTIONS:
    raise RuntimeError(f"chat dispatch table does not match the frame union: {sorted(set(_ACTIONS) ^ CHAT_ACTIONS)}")


def _dispatch(services: Services, caller: Caller, frame: Any) -> Any:
    return _ACTIONS[frame.action](services, caller, frame)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, CHAT_FRAME_ADAPTER, CHAT_ACTIONS, _dispatch)
