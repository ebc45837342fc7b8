// Types for client/roomcast.js (an ES module; no build step). Frames mirror
// layers/roomcast/roomcast/models/frames.py; docs/protocol.md describes them.

export declare const PROTOCOL: "roomcast.v1";
export declare const MAX_FRAME_BYTES: number;
export declare const MAX_HISTORY_LIMIT: number;

/** Client-side codes: "timeout" | "disconnected" | "not_connected" | "connect_failed" |
 * "payload_too_large" | "room_closed" | "invalid_argument"; plus every server code. */
export type ErrorCode =
  | "invalid_frame"
  | "bad_request"
  | "unsupported_media_type"
  | "method_not_allowed"
  | "unknown_action"
  | "payload_too_large"
  | "invalid_cursor"
  | "unauthorized"
  | "forbidden"
  | "not_member"
  | "not_room_admin"
  | "room_not_found"
  | "not_found"
  | "room_closed"
  | "conflict"
  | "rate_limited"
  | "too_many_rooms"
  | "call_not_found"
  | "invalid_call_state"
  | "unsafe_url"
  | "stream_ended"
  | "banned"
  | "muted"
  | "members_only"
  | "not_moderator"
  | "user_not_found"
  | "message_not_found"
  | "internal_error"
  | "timeout"
  | "disconnected"
  | "not_connected"
  | "connect_failed"
  | "invalid_argument"
  | (string & {});

export declare class RoomcastError extends Error {
  constructor(code: ErrorCode, message: string, requestId?: string | null, frame?: ErrorFrame | null);
  readonly code: ErrorCode;
  readonly requestId: string | null;
  /** The server's error frame, when there was one. */
  readonly frame: ErrorFrame | null;
}

// ------------------------------------------------------------------ server -> client

export interface Member {
  user_id: string;
  name: string;
  connections: number;
  joined_at: string;
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
  /** Server-side messages only (POST /rooms/{id}/messages, streams); absent on a client's send. */
  sender_kind?: "system" | "bot";
  /** A finished streamed message (the whole text), how it ended, and whether chunks after a gap were left out. */
  streamed?: boolean;
  stream_ended_by?: "end" | "timeout" | "room_closed";
  incomplete?: boolean;
  /** A tombstone (a moderator deleted it): text is "", meta gone. */
  deleted?: boolean;
  deleted_by?: string;
  deleted_at?: string;
}

/** A streamed message still being written, in a `joined` reply: its text so far. */
export interface OpenStream {
  message_id: string;
  room_id: string;
  user_id: string;
  name: string;
  sender_kind: "system" | "bot";
  /** Chunks 0..next_seq-1. */
  text: string;
  next_seq: number;
  started_at: string;
}

export interface StreamChunk {
  seq: number;
  text: string;
}

/** Chunks of a streamed message that became contiguous, in seq order. */
export interface MessageDeltaFrame {
  type: "message.delta";
  room_id: string;
  message_id: string;
  user_id: string;
  name: string;
  sender_kind: "system" | "bot";
  chunks: StreamChunk[];
}

/** The client's "stream" event: a streamed message's text so far, assembled in seq order. */
export interface StreamDetail {
  type: "stream";
  room_id: string;
  message_id: string;
  user_id: string;
  name: string;
  sender_kind?: "system" | "bot";
  text: string;
  /** True once: the final message arrived and `text` is the whole text. */
  done: boolean;
}

export interface InboxItem {
  id: string;
  type: string;
  data?: unknown;
  sent_at: string;
  room_id?: string;
  read: boolean;
}

export interface InboxFrame {
  type: "inbox";
  request_id?: string;
  /** Newest first. */
  items: InboxItem[];
  /** Pass as `before` for older items; absent on the last page. */
  next_cursor?: string;
  unread: number;
  /** How many of mark_read's ids were unread and are read now. */
  marked: number;
}

export interface HistoryPage {
  /** Oldest first within the page. */
  messages: Message[];
  /** Pass as `before` to page further back; absent on the last page. */
  next_cursor?: string;
}

export interface RoomSummary {
  room_id: string;
  name: string;
  state: "open" | "closed" | (string & {});
}

export interface JoinedFrame {
  type: "joined";
  request_id?: string;
  room: RoomSummary;
  members: Member[];
  /** True when the room has more users than fit in the 128 KB reply (the first joined are listed). */
  members_truncated?: boolean;
  history: HistoryPage;
  /** Streams open in the room with their text so far (only when there are some). */
  streams?: OpenStream[];
  /** The user's unread inbox count (absent when the user never had a stored notification). */
  unread?: number;
}

export interface LeftFrame {
  type: "left";
  request_id?: string;
  room_id: string;
}

export interface MemberEventFrame {
  type: "member.joined" | "member.left";
  room_id: string;
  user_id: string;
  name: string;
  /** Connections the user holds in the room after this event. */
  connection_count?: number;
  at: string;
}

export interface MessageFrame {
  type: "message";
  message: Message;
  /** Set by the client on messages replayed from history after a reconnect. */
  catch_up?: true;
}

export interface AckFrame {
  type: "ack";
  request_id?: string;
  message: Message;
  /** True when the client_msg_id was already stored (a resend): nothing was fanned out. */
  duplicate: boolean;
  delivered: number;
  failed: number;
  gone: number;
  /** Member connections left to range jobs (rooms above the split threshold); else 0. */
  queued: number;
}

export interface HistoryFrame extends HistoryPage {
  type: "history";
  request_id?: string;
  room_id: string;
}

export interface TypingFrame {
  type: "typing";
  room_id: string;
  user_id: string;
  name: string;
  is_typing: boolean;
}

export interface PongFrame {
  type: "pong";
  request_id?: string;
  server_time: string;
}

export interface Notification {
  /** The broadcast's id; the client emits each id once. */
  id: string;
  type: string;
  data?: unknown;
  sent_at: string;
  /** Set when the broadcast went to one room's members (or the notification is about a room). */
  room_id?: string;
  /** POST /users/{id}/notifications: the user it was sent to. */
  user_id?: string;
  /** True when it is also stored in the user's inbox. */
  inbox?: boolean;
}

/** An admin broadcast (POST /broadcasts) or a notification to this user (POST /users/{id}/notifications). */
export interface NotificationFrame {
  type: "notification";
  notification: Notification;
}

export interface RoomClosedFrame {
  type: "room.closed";
  request_id?: string;
  room_id: string;
  closed_by?: string;
  at?: string;
  /** Set by the client when it learned of the closure from a failed rejoin. */
  synthetic?: true;
  reason?: string;
}

export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  request_id?: string;
  /** rate_limited only: milliseconds until the same frame would be accepted. */
  retry_after_ms?: number;
  /** banned / muted only: when it ends (RFC 3339); absent: until lifted. */
  until?: string;
}

// ------------------------------------------------------------ moderation (issue 14)

/** A moderator's reply: the act as recorded. */
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

/** This connection was taken out of a room (it is no longer rejoined after reconnects). */
export interface KickedFrame {
  type: "kicked";
  room_id: string;
  /** kick: may join again; ban: refused until `until` (or for good); removed: off a members-only list. */
  cause: "kick" | "ban" | "removed";
  by: string;
  reason?: string;
  until?: string;
  at: string;
}

/** The user was muted (sends and typing refused with `muted`) or unmuted in a room. */
export interface MutedFrame {
  type: "muted" | "unmuted";
  room_id: string;
  by: string;
  reason?: string;
  until?: string;
  at: string;
}

export interface MessageDeletedFrame {
  type: "message.deleted";
  room_id: string;
  message_id: string;
  deleted_by: string;
  deleted_at: string;
}

/** Sent before the server closes this connection; the client does not reconnect. */
export interface DisconnectedFrame {
  type: "disconnected";
  reason: string;
  at: string;
}

/** WebRTC signaling frames ("signal", "call-*", "offer", "answer", "ice-candidate"). */
export interface SignalFrame {
  type: string;
  room_id?: string;
  call_id?: string;
  [key: string]: unknown;
}

export type ServerFrame =
  | JoinedFrame
  | LeftFrame
  | MemberEventFrame
  | MessageFrame
  | AckFrame
  | HistoryFrame
  | TypingFrame
  | PongFrame
  | RoomClosedFrame
  | NotificationFrame
  | MessageDeltaFrame
  | InboxFrame
  | ModeratedFrame
  | KickedFrame
  | MutedFrame
  | MessageDeletedFrame
  | DisconnectedFrame
  | ErrorFrame
  | SignalFrame;

// ------------------------------------------------------------------ client -> server

export interface ClientFrame {
  action: string;
  request_id?: string;
  [key: string]: unknown;
}

// ------------------------------------------------------------------ client

export interface ReconnectOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
}

export interface RoomcastClientOptions {
  /** wss://<api>.execute-api.<region>.amazonaws.com/<stage>, or the local runtime's ws:// URL. */
  url: string;
  token?: string;
  /** Called before every connect and reconnect (tokens expire; fetch a fresh one). */
  getToken?: () => string | Promise<string>;
  /** "subprotocol" (default): ["roomcast.v1", token]; "query": ?token=. */
  tokenTransport?: "subprotocol" | "query";
  /** Default 10 000. */
  requestTimeoutMs?: number;
  /** Default 60 000 (sends survive reconnects). */
  sendTimeoutMs?: number;
  /** Default 300 000 (5 min, under API Gateway's 10-min idle timeout); 0 disables. */
  heartbeatMs?: number;
  /** Default 10 000. */
  pongTimeoutMs?: number;
  /** Default 3 000. */
  typingThrottleMs?: number;
  /** Default 1 000; beyond it a "gap" event is emitted instead. */
  catchUpMaxMessages?: number;
  /** Default {minDelayMs: 500, maxDelayMs: 30000, maxAttempts: Infinity}; false disables. */
  reconnect?: ReconnectOptions | false;
  WebSocket?: typeof WebSocket;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

export interface PresenceDetail {
  type: "presence";
  room_id: string;
  members: Member[];
}

export interface CloseDetail {
  code: number;
  reason: string;
  wasClean: boolean;
  willReconnect: boolean;
}

export interface RoomcastEventMap {
  message: CustomEvent<MessageFrame>;
  "member.joined": CustomEvent<MemberEventFrame>;
  "member.left": CustomEvent<MemberEventFrame>;
  presence: CustomEvent<PresenceDetail>;
  typing: CustomEvent<TypingFrame>;
  "room.closed": CustomEvent<RoomClosedFrame>;
  /** An admin broadcast or a notification to this user, once per notification id. */
  notification: CustomEvent<NotificationFrame>;
  /** The inbox's unread count changed. */
  unread: CustomEvent<{ unread: number }>;
  "message.delta": CustomEvent<MessageDeltaFrame>;
  /** A streamed message's text so far, in seq order; `done` once with the whole text. */
  stream: CustomEvent<StreamDetail>;
  signal: CustomEvent<SignalFrame>;
  /** Out of a room. A rejoin refused with banned / members_only after a reconnect is told
   * as a kicked the client builds: `synthetic: true`, `by` absent. */
  kicked: CustomEvent<KickedFrame | (Omit<KickedFrame, "by" | "at"> & { synthetic: true; by?: string; at?: string })>;
  muted: CustomEvent<MutedFrame>;
  unmuted: CustomEvent<MutedFrame>;
  "message.deleted": CustomEvent<MessageDeletedFrame>;
  disconnected: CustomEvent<DisconnectedFrame>;
  /** Every frame received, before any other event. */
  frame: CustomEvent<ServerFrame>;
  open: CustomEvent<{ reconnect: boolean }>;
  close: CustomEvent<CloseDetail>;
  reconnecting: CustomEvent<{ attempt: number; delayMs: number }>;
  reconnected: CustomEvent<{ attempts: number; rooms: string[] }>;
  gap: CustomEvent<{ room_id: string; reason: string }>;
  error: CustomEvent<{ error: unknown; frame: ErrorFrame | null }>;
}

export declare class RoomcastClient extends EventTarget {
  constructor(options: RoomcastClientOptions);
  readonly url: string;
  readonly state: ConnectionState;
  /** The current WebSocket, for diagnostics and tests; do not send on it directly. */
  readonly socket: WebSocket | null;
  /** Rooms joined (and rejoined after reconnects). */
  readonly rooms: string[];
  members(roomId: string): Member[];
  lastMessageId(roomId: string): string | null;
  /** The inbox's unread count, once the server told it (joined, inbox, notifications). */
  readonly unread: number | null;
  /** The text so far of a streamed message being received, or null. */
  streamText(messageId: string): string | null;

  connect(): Promise<void>;
  disconnect(code?: number, reason?: string): void;

  request<T extends ServerFrame = ServerFrame>(frame: ClientFrame, options?: { timeoutMs?: number }): Promise<T>;
  notify(frame: ClientFrame): boolean;

  join(roomId: string, options?: { historyLimit?: number; timeoutMs?: number }): Promise<JoinedFrame>;
  leave(roomId: string): Promise<LeftFrame>;
  send(
    roomId: string,
    text: string,
    options?: { clientMsgId?: string; meta?: Record<string, unknown>; timeoutMs?: number },
  ): Promise<AckFrame>;
  history(
    roomId: string,
    options?: { before?: string | null; limit?: number; timeoutMs?: number },
  ): Promise<HistoryFrame>;
  typing(roomId: string, isTyping?: boolean): boolean;
  close(roomId: string, options?: { timeoutMs?: number }): Promise<ServerFrame>;
  ping(): Promise<PongFrame>;
  inbox(options?: { before?: string | null; limit?: number; markRead?: string[]; timeoutMs?: number }): Promise<InboxFrame>;

  /** Moderators, room admins and admin tokens only; each resolves with the act as recorded. */
  kick(roomId: string, userId: string, options?: { reason?: string; timeoutMs?: number }): Promise<ModeratedFrame>;
  ban(
    roomId: string,
    userId: string,
    options?: { durationSeconds?: number; reason?: string; timeoutMs?: number },
  ): Promise<ModeratedFrame>;
  unban(roomId: string, userId: string, options?: { timeoutMs?: number }): Promise<ModeratedFrame>;
  mute(
    roomId: string,
    userId: string,
    options?: { durationSeconds?: number; reason?: string; timeoutMs?: number },
  ): Promise<ModeratedFrame>;
  unmute(roomId: string, userId: string, options?: { timeoutMs?: number }): Promise<ModeratedFrame>;
  deleteMessage(roomId: string, messageId: string, options?: { timeoutMs?: number }): Promise<ModeratedFrame>;

  addEventListener<K extends keyof RoomcastEventMap>(
    type: K,
    listener: (event: RoomcastEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof RoomcastEventMap>(
    type: K,
    listener: (event: RoomcastEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

export declare function newClientMsgId(): string;
