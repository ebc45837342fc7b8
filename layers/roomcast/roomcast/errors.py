"""Domain errors and the one place that maps them to wire error codes and HTTP statuses.

Every refusal a client can meet is a RoomcastError subclass with a stable `code`.
Anything else that escapes a handler is reported as `internal_error` with no detail:
clients never see stack traces.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RoomcastError(Exception):
    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details


class InvalidFrame(RoomcastError):
    code = "invalid_frame"
    http_status = 400
    default_message = "the frame is not valid"


class BadRequest(RoomcastError):
    code = "bad_request"
    http_status = 400
    default_message = "the request is not valid"


class UnsupportedMediaType(RoomcastError):
    """An admin API body that is not JSON (docs/admin-api.md, "Requests")."""

    code = "unsupported_media_type"
    http_status = 415
    default_message = "send the body as Content-Type: application/json"


class MethodNotAllowed(RoomcastError):
    """A method the path does not serve; the response's Allow header names those it does."""

    code = "method_not_allowed"
    http_status = 405
    default_message = "method not allowed"


class UnknownAction(RoomcastError):
    code = "unknown_action"
    http_status = 400
    default_message = "unknown action"


class PayloadTooLarge(RoomcastError):
    code = "payload_too_large"
    http_status = 413
    default_message = "payload too large"


class InvalidCursor(RoomcastError):
    code = "invalid_cursor"
    http_status = 400
    default_message = "the cursor is not valid"


class Unauthorized(RoomcastError):
    code = "unauthorized"
    http_status = 401
    default_message = "missing or invalid credentials"


class Forbidden(RoomcastError):
    code = "forbidden"
    http_status = 403
    default_message = "not allowed"


class NotMember(RoomcastError):
    code = "not_member"
    http_status = 403
    default_message = "join the room first"


class NotRoomAdmin(RoomcastError):
    code = "not_room_admin"
    http_status = 403
    default_message = "only the room's admins may do this"


class RoomNotFound(RoomcastError):
    code = "room_not_found"
    http_status = 404
    default_message = "no such room"


class NotFound(RoomcastError):
    code = "not_found"
    http_status = 404
    default_message = "not found"


class RoomClosed(RoomcastError):
    code = "room_closed"
    http_status = 409
    default_message = "the room is closed"


class Conflict(RoomcastError):
    code = "conflict"
    http_status = 409
    default_message = "conflict"


class RateLimited(RoomcastError):
    code = "rate_limited"
    http_status = 429
    default_message = "too many requests"

    def __init__(self, message: str | None = None, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        # When a retry can succeed (a token bucket refills); sent as the frame's retry_after_ms.
        self.retry_after_ms = retry_after_ms


class TooManyRooms(RoomcastError):
    code = "too_many_rooms"
    http_status = 409
    default_message = "this connection is in as many rooms as it may be"


class CallNotFound(RoomcastError):
    code = "call_not_found"
    http_status = 404
    default_message = "no such call in this room"


class InvalidCallState(RoomcastError):
    code = "invalid_call_state"
    http_status = 409
    default_message = "this signal does not fit the call's current state"


class UnsafeUrl(RoomcastError):
    code = "unsafe_url"
    http_status = 400
    default_message = "the URL is not allowed"


class StreamEnded(RoomcastError):
    """A chunk for a streamed message that has already ended (its message is in history)."""

    code = "stream_ended"
    http_status = 409
    default_message = "the stream has ended"
# ------------------------------------------------- membership and moderation (issue 14)


class _Restricted(RoomcastError):
    """A refusal that may end: `until` (RFC 3339) goes into the frame when the act has one."""

    def __init__(self, message: str | None = None, until: str | None = None) -> None:
        super().__init__(message)
        self.until = until


class Banned(_Restricted):
    code = "banned"
    http_status = 403
    default_message = "you are banned from this room"


class Muted(_Restricted):
    code = "muted"
    http_status = 403
    default_message = "you are muted in this room"


class MembersOnly(RoomcastError):
    code = "members_only"
    http_status = 403
    default_message = "this room is for its listed members only"


class NotModerator(RoomcastError):
    code = "not_moderator"
    http_status = 403
    default_message = "only the room's moderators and admins may do this"


class UserNotFound(RoomcastError):
    code = "user_not_found"
    http_status = 404
    default_message = "no such user here"


class MessageNotFound(RoomcastError):
    code = "message_not_found"
    http_status = 404
    default_message = "no such message in this room (or it is already deleted)"


def error_body(exc: BaseException, request_id: str | None = None) -> dict[str, Any]:
    """The error frame / JSON body for any exception (the only mapping in the code base)."""
    if isinstance(exc, RoomcastError):
        code, message = exc.code, exc.message
    else:
        code, message = RoomcastError.code, RoomcastError.default_message
    body: dict[str, Any] = {"type": "error", "code": code, "message": message}
    retry_after_ms = getattr(exc, "retry_after_ms", None)
    if isinstance(retry_after_ms, int):
        body["retry_after_ms"] = retry_after_ms
    until = getattr(exc, "until", None)
    if isinstance(exc, RoomcastError) and isinstance(until, str):
        body["until"] = until
    if request_id is not None:
        body["request_id"] = request_id
    return body


def over_http(exc: RoomcastError) -> RoomcastError:
    """The admin API's name for a refusal: what a WebSocket frame calls `invalid_frame`
    (a message's meta, shared by `send` and POST /rooms/{id}/messages) is a `bad_request`
    there, as its error table says (docs/admin-api.md, "Errors")."""
    return BadRequest(exc.message) if isinstance(exc, InvalidFrame) else exc


def http_status(exc: BaseException) -> int:
    return exc.http_status if isinstance(exc, RoomcastError) else 500
