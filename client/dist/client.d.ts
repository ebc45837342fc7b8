import { CallManager, type CallManagerOptions } from "./calls.js";
import { Emitter } from "./emitter.js";
import { Room } from "./room.js";
import type { ClientFrame, DisconnectedFrame, ErrorFrame, InboxFrame, NotificationFrame, PongFrame, ServerFrame, SignalRelayFrame } from "./wire.js";
/** The subprotocol the server echoes; the token rides next to it. */
export declare const PROTOCOL = "roomcast.v1";
/** API Gateway's WebSocket frame limit; bigger frames would close the socket with 1009. */
export declare const MAX_FRAME_BYTES: number;
/** The server's history page limit. */
export declare const MAX_HISTORY_LIMIT = 100;
export interface ReconnectOptions {
    /** First backoff step before jitter. Default 500. */
    minDelayMs?: number;
    /** Backoff cap. Default 30 000. */
    maxDelayMs?: number;
    /** Give up after this many failed attempts. Default: never. */
    maxAttempts?: number;
}
/** The WebSocket constructor the client uses (browsers: the global one; Node: `ws`). */
export type WebSocketLike = new (url: string, protocols?: string | string[]) => WebSocket;
export interface RoomcastClientOptions {
    /** wss://<api>.execute-api.<region>.amazonaws.com/<stage>, or the local runtime's ws:// URL. */
    url: string;
    /** A connect token (JWT); fine for one connection's lifetime. */
    token?: string;
    /**
     * Called before every connect and reconnect: fetch a fresh token from your backend.
     * Throw UnauthorizedError when the backend refuses: the client stops reconnecting.
     */
    getToken?: () => string | Promise<string>;
    /** "subprotocol" (default): ["roomcast.v1", token]; "query": ?token=. */
    tokenTransport?: "subprotocol" | "query";
    /** Default 10 000. */
    requestTimeoutMs?: number;
    /** Default 60 000: sends survive reconnects, so they get a longer clock. */
    sendTimeoutMs?: number;
    /** Default 300 000 (5 min, under API Gateway's 10-min idle timeout); 0 disables. */
    heartbeatMs?: number;
    /** Default 10 000. */
    pongTimeoutMs?: number;
    /** Repeated typing(true) calls write at most one frame per interval. Default 3 000. */
    typingThrottleMs?: number;
    /** Another member's typing shows this long without a repeat. Default 6 000. */
    typingTimeoutMs?: number;
    /** After a reconnect, replay at most this many missed messages per room, then emit `gap`. Default 1 000. */
    catchUpMaxMessages?: number;
    /** Default {minDelayMs: 500, maxDelayMs: 30000, maxAttempts: Infinity}; false disables. */
    reconnect?: ReconnectOptions | false;
    /** The WebSocket implementation (tests, Node: `import { WebSocket } from "ws"`). */
    WebSocket?: WebSocketLike;
    /** Options of the CallManager behind `client.calls` and `room.call()`. */
    calls?: CallManagerOptions;
}
export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
export interface ConnectionStateDetail {
    state: ConnectionState;
    previous: ConnectionState;
    /** reconnecting: the attempt about to be made (1, 2, ...) and the wait before it. */
    attempt?: number;
    delayMs?: number;
    /** The close that led here, when a socket closed. */
    code?: number;
    reason?: string;
    /** closed: why the client stopped ("disconnect", "disconnected", "unauthorized", "room_closed", "gave_up", "connect_failed"). */
    cause?: string;
}
export interface ClientEventMap {
    /** The connection's state changed. */
    state: ConnectionStateDetail;
    /** After a reconnect: every room rejoined, caught up, and the sends resent. */
    reconnected: {
        attempts: number;
        rooms: string[];
    };
    /** An admin broadcast or a notification to this user, once per notification id. */
    notification: NotificationFrame;
    /** The inbox's unread count changed. */
    unread: {
        unread: number;
    };
    /** The server is closing this connection (an operator's disconnect); no reconnect follows. */
    disconnected: DisconnectedFrame;
    /** The connection is not authorized (see UnauthorizedError); no reconnect follows. */
    unauthorized: {
        status: number | null;
        message: string;
    };
    /** WebRTC signaling frames (CallManager listens). */
    signal: SignalRelayFrame | ServerFrame;
    /** Every frame received, before anything else (frames of unknown types arrive only here). */
    frame: ServerFrame;
    /** An uncorrelated error frame, or a failed reconnect attempt. */
    error: {
        error: unknown;
        frame: ErrorFrame | null;
    };
}
export interface RequestOptions {
    timeoutMs?: number;
}
/** The roomcast WebSocket client: connection-level state and events; rooms through room(id). */
export declare class RoomcastClient extends Emitter<ClientEventMap> {
    readonly url: string;
    readonly requestTimeoutMs: number;
    readonly sendTimeoutMs: number;
    readonly heartbeatMs: number;
    readonly pongTimeoutMs: number;
    readonly typingThrottleMs: number;
    readonly typingTimeoutMs: number;
    readonly catchUpMaxMessages: number;
    private readonly _token;
    private readonly _getToken;
    private readonly _tokenTransport;
    private readonly _reconnect;
    private readonly _WebSocket;
    private readonly _callOptions;
    private _state;
    private _ws;
    private _socketGen;
    private _seq;
    private readonly _inflight;
    private _outbox;
    private readonly _rooms;
    private readonly _seenNotifications;
    private _unread;
    private _resyncing;
    private _attempt;
    private _reconnectTimer;
    private _heartbeatTimer;
    private _abortOpen;
    private _everOpened;
    private _refusedOnce;
    private _endedByServer;
    private _endedByRoomClosure;
    private _calls;
    private readonly _onOnline;
    constructor(options: RoomcastClientOptions);
    /** "idle" | "connecting" | "open" | "reconnecting" | "closed" */
    get state(): ConnectionState;
    /** The current WebSocket (diagnostics and tests; do not send on it directly). */
    get socket(): WebSocket | null;
    /** The inbox's unread count, once the server told it (joined, inbox, notifications); else null. */
    get unread(): number | null;
    /** Every room handle made so far, whatever its state. */
    get rooms(): Room[];
    /** The handle of a room: the same object for the same id, for the client's lifetime. */
    room(id: string): Room;
    /** 1:1 WebRTC calls (created on first use; needs RTCPeerConnection and getUserMedia). */
    get calls(): CallManager;
    /**
     * Open the connection. Resolves once the socket is open. The first attempt rejects with
     * "connect_failed" when it fails (browsers do not show why a handshake failed), or with
     * UnauthorizedError when the handshake was refused 401/403 twice or getToken() threw it.
     * After one success, drops are retried automatically.
     */
    connect(): Promise<void>;
    /** Close deliberately: no reconnect; pending requests fail with "disconnected"; rooms are left. */
    disconnect(code?: number, reason?: string): void;
    private _lastUnauthorized;
    /**
     * A failed attempt that says "not authorized": the first 401/403 asks for one more try
     * (true, state unchanged); the second, or getToken() throwing UnauthorizedError, ends the
     * client (true, state closed). Anything else: false.
     */
    private _authorizationFailed;
    private _unauthorized;
    /** Stop for good: no reconnect, everything pending fails, every room is left. */
    private _close;
    private _setState;
    private _waitForOpen;
    private _currentToken;
    /** Open one socket; resolves on open, rejects if it closes or errors first. */
    private _open;
    private _handleClose;
    /** Drop the current socket (no close handshake wait) and go through the reconnect path. */
    private _forceReconnect;
    private _scheduleReconnect;
    /** Reconnect now instead of waiting out the backoff (a "Retry now" button). */
    retryNow(): void;
    private _attemptReconnect;
    /** After a reconnect: rejoin rooms (they catch up), resend, then flush the outbox. */
    private _resync;
    private _scheduleHeartbeat;
    private _clearHeartbeat;
    private _clearTimers;
    /**
     * Send any client frame and wait for the reply that echoes its `request_id` (assigned
     * here when missing). Rejects with RoomcastError: the server's code, or "timeout",
     * "disconnected", "not_connected", "payload_too_large" (over 32 KB, checked first).
     */
    request<T = ServerFrame>(frame: ClientFrame, options?: RequestOptions): Promise<T>;
    /**
     * Fire and forget (no request_id, no reply). Dropped when not open (or still rejoining
     * after a reconnect): for ephemeral frames such as typing. Returns whether it was written.
     */
    notify(frame: ClientFrame): boolean;
    /** Round trip to the server; resolves with the `pong` frame. */
    ping(): Promise<PongFrame>;
    /**
     * The inbox of stored notifications, newest first: marks `markRead` read first, then
     * answers a page (`limit` 0: only the unread count). Pass `next_cursor` back as `before`.
     */
    inbox(options?: {
        before?: string | null;
        limit?: number;
        markRead?: string[];
        timeoutMs?: number;
    }): Promise<InboxFrame>;
    private _write;
    /** Remove a request from every queue and stop its clock. */
    private _settle;
    private _flushOutbox;
    /** A socket closed: what was written on it either waits for the next one or fails. */
    private _failInflight;
    private _failAll;
    private _handleData;
    private _dispatch;
    private _setUnread;
}
/** A fresh client_msg_id (randomUUID needs a secure context; fall back elsewhere). */
export declare function newClientMsgId(): string;
