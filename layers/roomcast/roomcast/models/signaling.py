"""WebRTC signaling frames (both directions), the stored call state and its admin view.

SDP and ICE candidates are opaque to roomcast: they are size-checked and relayed
exactly as the browser produced them, never parsed or rewritten.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, model_validator

from roomcast.models.common import OutModel, RoomId, StrictModel, UserId, actions_of
from roomcast.models.frames import ClientFrame
from roomcast.models.records import CallRecord

SignalType = Literal[
    "call-invite",
    "call-accept",
    "call-reject",
    "call-hangup",
    "offer",
    "answer",
    "ice-candidate",
]
Media = Literal["audio", "video"]
# Same alphabet as roomcast.ids.new_id: 13 hex digits of ms, 12 random hex digits.
CallId = Annotated[str, Field(pattern=r"^[0-9a-f]{25}$")]
Reason = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]

ACTIVE_STATUSES = frozenset({"invited", "accepted"})
TERMINAL_STATUSES = frozenset({"rejected", "ended", "failed", "missed"})

# ---------------------------------------------------------------- client -> server


class SignalFrame(ClientFrame):
    action: Literal["signal"]
    room_id: RoomId
    type: SignalType
    # The peer. Required for an invite; for the other types the call record names the
    # peer, and a `to` that disagrees with it is refused rather than silently ignored.
    to: UserId | None = None
    # Optional on an invite (a client may propose its own time-ordered id so it knows the
    # id before the ack arrives); required for every other type.
    call_id: CallId | None = None
    media: Media | None = None
    # RTCSessionDescriptionInit {type, sdp}, passed through untouched.
    sdp: dict[str, Any] | None = None
    # RTCIceCandidateInit {candidate, sdpMid, sdpMLineIndex, usernameFragment}, untouched.
    candidate: dict[str, Any] | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _fields_fit_type(self) -> SignalFrame:
        kind = self.type
        if kind == "call-invite":
            if self.to is None:
                raise ValueError("call-invite needs `to` (the user id to call)")
        elif self.call_id is None:
            raise ValueError(f"{kind} needs `call_id`")
        if self.media is not None and kind != "call-invite":
            raise ValueError("`media` belongs to call-invite only")
        if kind in ("offer", "answer"):
            if self.sdp is None or not isinstance(self.sdp.get("sdp"), str):
                raise ValueError(f"{kind} needs `sdp` as {{type, sdp}}")
        elif self.sdp is not None:
            raise ValueError("`sdp` belongs to offer and answer only")
        if kind == "ice-candidate":
            if self.candidate is None:
                raise ValueError("ice-candidate needs `candidate`")
        elif self.candidate is not None:
            raise ValueError("`candidate` belongs to ice-candidate only")
        return self


SIGNAL_FRAME_ADAPTER: TypeAdapter[Any] = TypeAdapter(SignalFrame)
SIGNAL_ACTIONS = actions_of(SignalFrame)


class CallTimerJob(StrictModel):
    """The delayed SQS message that turns an unanswered invite into a missed call."""

    room_id: RoomId
    call_id: CallId


class StreamTimerJob(StrictModel):
    """The delayed message on the same queue that ends an idle streamed message (issue 13)."""

    kind: Literal["stream"]
    room_id: RoomId
    stream_id: CallId  # the same 25-hex-digit id shape


# ---------------------------------------------------------------- server -> client


class Peer(OutModel):
    user_id: str
    name: str


class SignalRelayFrame(OutModel):
    """What the peer receives: the signal, who sent it, and the call's status after it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["signal"] = "signal"
    signal: SignalType
    room_id: str
    call_id: str
    from_: Peer = Field(serialization_alias="from", alias="from")
    status: str | None = None
    media: Media | None = None
    sdp: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None
    reason: str | None = None

    def dump(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class SignalAckFrame(OutModel):
    type: Literal["signal.ack"] = "signal.ack"
    request_id: str | None = None
    signal: SignalType
    room_id: str
    call_id: str
    status: str
    delivered: int = 0


class CallFailedFrame(OutModel):
    type: Literal["call-failed"] = "call-failed"
    request_id: str | None = None
    room_id: str
    call_id: str
    to: str
    reason: Literal["user-offline", "busy"]


# ---------------------------------------------------------------- stored state


class CallState(CallRecord):
    """A call record plus what only signaling needs (never part of call_history).

    The connections pin a call to one browser tab per side: the caller's from the invite,
    the callee's from the accept, so offers, answers and candidates reach exactly the
    tab that holds the RTCPeerConnection.
    """

    caller_name: str | None = None
    callee_name: str | None = None
    caller_connection: str | None = None
    callee_connection: str | None = None


class CallView(OutModel):
    """A call as the admin API shows it (GET /rooms/{id} -> calls[])."""

    call_id: str
    caller: str
    callee: str
    caller_name: str | None = None
    callee_name: str | None = None
    media: str
    status: str
    invited_at: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: int | None = None
    duration_seconds: float | None = None
    ended_by: str | None = None
    reason: str | None = None
