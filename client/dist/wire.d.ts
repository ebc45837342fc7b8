export interface AckFrame {
    type: "ack";
    request_id?: string;
    message: Message;
    duplicate: boolean;
    delivered: number;
    failed: number;
    gone: number;
    queued: number;
}
export interface BanAction {
    request_id?: string | null;
    room_id: string;
    user_id: string;
    duration_seconds?: number | null;
    reason?: string | null;
    action: "ban";
}
export interface CallFailedFrame {
    type: "call-failed";
    request_id?: string;
    room_id: string;
    call_id: string;
    to: string;
    reason: "user-offline" | "busy";
}
/** A frame a client sends, routed on `action`. */
export type ClientFrame = JoinAction | LeaveAction | SendAction | HistoryAction | TypingAction | PingAction | CloseAction | InboxAction | KickAction | BanAction | UnbanAction | MuteAction | UnmuteAction | DeleteMessageAction | SignalAction;
/** Room admins only: close the room (same effect as the admin API's POST /rooms/{room_id}/close). */
export interface CloseAction {
    request_id?: string | null;
    action: "close";
    room_id: string;
}
export interface DeleteMessageAction {
    request_id?: string | null;
    action: "delete_message";
    room_id: string;
    message_id: string;
}
/** Sent before the server closes a connection (POST /users/{id}/disconnect). */
export interface DisconnectedFrame {
    type: "disconnected";
    reason: string;
    at: string;
}
/** Every `code` an error frame (or an admin API error body) can carry. */
export type ErrorCode = "bad_request" | "banned" | "call_not_found" | "conflict" | "forbidden" | "internal_error" | "invalid_call_state" | "invalid_cursor" | "invalid_frame" | "members_only" | "message_not_found" | "method_not_allowed" | "muted" | "not_found" | "not_member" | "not_moderator" | "not_room_admin" | "payload_too_large" | "rate_limited" | "room_closed" | "room_not_found" | "stream_ended" | "too_many_rooms" | "unauthorized" | "unknown_action" | "unsafe_url" | "unsupported_media_type" | "user_not_found";
export interface ErrorFrame {
    type: "error";
    code: string;
    message: string;
    request_id?: string;
    retry_after_ms?: number;
    until?: string;
}
export interface HistoryAction {
    request_id?: string | null;
    action: "history";
    room_id: string;
    before?: string | null;
    limit?: number;
}
export interface HistoryFrame {
    type: "history";
    request_id?: string;
    room_id: string;
    messages: Message[];
    next_cursor?: string;
}
export interface HistoryPage {
    messages: Message[];
    next_cursor?: string;
}
/** The caller's inbox (notifications stored by POST /users/{id}/notifications): mark some read, then page it newest first. limit 0 answers only the unread count. */
export interface InboxAction {
    request_id?: string | null;
    action: "inbox";
    before?: string | null;
    limit?: number;
    mark_read?: string[] | null;
}
export interface InboxFrame {
    type: "inbox";
    request_id?: string;
    items: InboxItem[];
    next_cursor?: string;
    unread: number;
    marked: number;
}
export interface InboxItem {
    id: string;
    type: string;
    data?: unknown;
    sent_at: string;
    room_id?: string;
    read: boolean;
}
export interface JoinAction {
    request_id?: string | null;
    action: "join";
    room_id: string;
    history_limit?: number | null;
}
export interface JoinedFrame {
    type: "joined";
    request_id?: string;
    room: RoomSummary;
    members: Member[];
    members_truncated?: boolean;
    history: HistoryPage;
    streams?: OpenStream[];
    unread?: number;
}
/** The user's connections leave the room (they get `kicked`); they may join again. */
export interface KickAction {
    request_id?: string | null;
    action: "kick";
    room_id: string;
    user_id: string;
    reason?: string | null;
}
/** To each connection a moderator removed from the room; it is no longer a member. cause: kick (it may join again), ban (refused until `until`, or for good), removed (taken off a members-only room's list). */
export interface KickedFrame {
    type: "kicked";
    room_id: string;
    cause: "kick" | "ban" | "removed";
    by: string;
    reason?: string;
    until?: string;
    at: string;
}
export interface LeaveAction {
    request_id?: string | null;
    action: "leave";
    room_id: string;
}
export interface LeftFrame {
    type: "left";
    request_id?: string;
    room_id: string;
}
export interface Member {
    user_id: string;
    name: string;
    connections: number;
    joined_at: string;
}
export interface MemberEventFrame {
    type: "member.joined" | "member.left";
    room_id: string;
    user_id: string;
    name: string;
    connection_count?: number;
    at: string;
}
export interface Message {
    id: string;
    room_id: string;
    user_id: string;
    name: string;
    text: string;
    sent_at: string;
    client_msg_id?: string;
    meta?: Record<string, unknown>;
    sender_kind?: "system" | "bot";
    streamed?: boolean;
    stream_ended_by?: "end" | "timeout" | "room_closed";
    incomplete?: boolean;
    deleted?: boolean;
    deleted_by?: string;
    deleted_at?: string;
}
export interface MessageDeletedFrame {
    type: "message.deleted";
    room_id: string;
    message_id: string;
    deleted_by: string;
    deleted_at: string;
}
/** Chunks of a streamed message that just became contiguous, in seq order. A client appends the chunk whose seq is its next one and ignores those it already has; the final `message` with the same id carries the whole text. */
export interface MessageDeltaFrame {
    type: "message.delta";
    room_id: string;
    message_id: string;
    user_id: string;
    name: string;
    sender_kind: "system" | "bot";
    chunks: StreamChunk[];
}
export interface MessageFrame {
    type: "message";
    message: Message;
}
/** The moderator's reply: the act as recorded (MODLOG#). */
export interface ModeratedFrame {
    type: "moderated";
    request_id?: string;
    room_id: string;
    act: string;
    target_user?: string;
    message_id?: string;
    until?: string;
    connections_removed?: number;
}
export interface MuteAction {
    request_id?: string | null;
    room_id: string;
    user_id: string;
    duration_seconds?: number | null;
    reason?: string | null;
    action: "mute";
}
/** To the muted user's connections in the room: sends and typing answer `muted`. */
export interface MutedFrame {
    type: "muted" | "unmuted";
    room_id: string;
    by: string;
    reason?: string;
    until?: string;
    at: string;
}
export interface Notification {
    id: string;
    type: string;
    data?: unknown;
    sent_at: string;
    room_id?: string;
    user_id?: string;
    inbox?: boolean;
}
/** An admin broadcast (POST /broadcasts) to every connection, a room's or some users'. */
export interface NotificationFrame {
    type: "notification";
    notification: Notification;
}
/** A streamed message still being written: its text so far (chunks 0..next_seq-1). */
export interface OpenStream {
    message_id: string;
    room_id: string;
    user_id: string;
    name: string;
    sender_kind: "system" | "bot";
    text: string;
    next_seq: number;
    started_at: string;
}
export interface Peer {
    user_id: string;
    name: string;
}
export interface PingAction {
    request_id?: string | null;
    action: "ping";
}
export interface PongFrame {
    type: "pong";
    request_id?: string;
    server_time: string;
}
export interface RoomClosedFrame {
    type: "room.closed";
    request_id?: string;
    room_id: string;
    closed_by?: string;
    at: string;
}
export interface RoomSummary {
    room_id: string;
    name: string;
    state: string;
}
export interface SendAction {
    request_id?: string | null;
    action: "send";
    room_id: string;
    text: string;
    client_msg_id?: string | null;
    meta?: {
        [key: string]: StorableJson;
    } | null;
}
/** A frame the server sends, told apart by `type`. */
export type ServerFrame = JoinedFrame | LeftFrame | MemberEventFrame | MessageFrame | AckFrame | HistoryFrame | TypingEventFrame | PongFrame | RoomClosedFrame | ErrorFrame | NotificationFrame | MessageDeltaFrame | InboxFrame | ModeratedFrame | KickedFrame | MutedFrame | MessageDeletedFrame | DisconnectedFrame | SignalRelayFrame | SignalAckFrame | CallFailedFrame;
export interface SignalAckFrame {
    type: "signal.ack";
    request_id?: string;
    signal: "call-invite" | "call-accept" | "call-reject" | "call-hangup" | "offer" | "answer" | "ice-candidate";
    room_id: string;
    call_id: string;
    status: string;
    delivered: number;
}
export interface SignalAction {
    request_id?: string | null;
    action: "signal";
    room_id: string;
    type: "call-invite" | "call-accept" | "call-reject" | "call-hangup" | "offer" | "answer" | "ice-candidate";
    to?: string | null;
    call_id?: string | null;
    media?: "audio" | "video" | null;
    sdp?: Record<string, unknown> | null;
    candidate?: Record<string, unknown> | null;
    reason?: string | null;
}
/** What the peer receives: the signal, who sent it, and the call's status after it. */
export interface SignalRelayFrame {
    type: "signal";
    signal: "call-invite" | "call-accept" | "call-reject" | "call-hangup" | "offer" | "answer" | "ice-candidate";
    room_id: string;
    call_id: string;
    from: Peer;
    status?: string;
    media?: "audio" | "video";
    sdp?: Record<string, unknown>;
    candidate?: Record<string, unknown>;
    reason?: string;
}
export type StorableJson = boolean | number | string | StorableJson[] | {
    [key: string]: StorableJson;
} | null;
export interface StreamChunk {
    seq: number;
    text: string;
}
export interface TypingAction {
    request_id?: string | null;
    action: "typing";
    room_id: string;
    is_typing?: boolean;
}
export interface TypingEventFrame {
    type: "typing";
    room_id: string;
    user_id: string;
    name: string;
    is_typing: boolean;
}
export interface UnbanAction {
    request_id?: string | null;
    action: "unban";
    room_id: string;
    user_id: string;
}
export interface UnmuteAction {
    request_id?: string | null;
    action: "unmute";
    room_id: string;
    user_id: string;
}
