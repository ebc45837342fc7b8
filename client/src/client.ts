// RoomcastClient: one WebSocket to roomcast, shared by every Room handle (client.room(id)).
// Protocol: docs/protocol.md. What it adds to a bare WebSocket:
// - the connect token as a subprotocol entry (["roomcast.v1", token]), fetched from
//   getToken() before every connect;
// - request/reply correlation through `request_id`, with per-request timeouts;
// - heartbeats (`ping`) below API Gateway's 10-minute idle timeout; a missing pong reconnects;
// - reconnect with exponential backoff and full jitter, then every room rejoins, catches up
//   through `history` and unacknowledged sends are resent with their client_msg_id;
// - errors that stop the loop: a handshake refused 401/403 twice (a fresh token between)
//   or getToken() throwing UnauthorizedError ends in `unauthorized`; a `disconnected`
//   frame (an operator's forced disconnect) ends the connection for good;
// - connection-level events: state, notification, unread, disconnected, unauthorized.

import { CallManager, type CallManagerOptions } from "./calls.js";
import { Emitter } from "./emitter.js";
import { RoomcastError, UnauthorizedError } from "./errors.js";
import { Room } from "./room.js";
import type {
  ClientFrame,
  DisconnectedFrame,
  ErrorFrame,
  InboxFrame,
  NotificationFrame,
  PongFrame,
  ServerFrame,
  SignalRelayFrame,
} from "./wire.js";

/** The subprotocol the server echoes; the token rides next to it. */
export const PROTOCOL = "roomcast.v1";
/** API Gateway's WebSocket frame limit; bigger frames would close the socket with 1009. */
export const MAX_FRAME_BYTES = 32 * 1024;
/** The server's history page limit. */
export const MAX_HISTORY_LIMIT = 100;

// WebSocket.close() accepts only 1000 or 3000-4999 from scripts.
const CLOSE_NORMAL = 1000;
const CLOSE_HEARTBEAT = 4000;
// Ids of notifications already emitted: a broadcast's range job may be delivered twice.
const SEEN_NOTIFICATIONS = 500;
// Frames of WebRTC signaling (docs/signaling.md): relayed signals and the replies that fail a call.
const SIGNAL_TYPES = new Set(["signal", "call-failed"]);

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
  reconnected: { attempts: number; rooms: string[] };
  /** An admin broadcast or a notification to this user, once per notification id. */
  notification: NotificationFrame;
  /** The inbox's unread count changed. */
  unread: { unread: number };
  /** The server is closing this connection (an operator's disconnect); no reconnect follows. */
  disconnected: DisconnectedFrame;
  /** The connection is not authorized (see UnauthorizedError); no reconnect follows. */
  unauthorized: { status: number | null; message: string };
  /** WebRTC signaling frames (CallManager listens). */
  signal: SignalRelayFrame | ServerFrame;
  /** Every frame received, before anything else (frames of unknown types arrive only here). */
  frame: ServerFrame;
  /** An uncorrelated error frame, or a failed reconnect attempt. */
  error: { error: unknown; frame: ErrorFrame | null };
}

interface Pending {
  id: string;
  seq: number;
  frame: Record<string, unknown> & { action: string; request_id: string };
  resolve: (frame: any) => void;
  reject: (error: RoomcastError) => void;
  timer: ReturnType<typeof setTimeout> | null;
  /** Resend after a reconnect instead of failing. */
  retry: boolean;
  /** Generation of the socket it was written to (0 = not written). */
  socketGen: number;
}

export interface RequestOptions {
  timeoutMs?: number;
}

/** @internal options of the client's own requests. */
export interface InternalRequestOptions extends RequestOptions {
  internal?: boolean;
  retry?: boolean;
}

/** The roomcast WebSocket client: connection-level state and events; rooms through room(id). */
export class RoomcastClient extends Emitter<ClientEventMap> {
  readonly url: string;
  readonly requestTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly pongTimeoutMs: number;
  readonly typingThrottleMs: number;
  readonly typingTimeoutMs: number;
  readonly catchUpMaxMessages: number;

  private readonly _token: string | null;
  private readonly _getToken: (() => string | Promise<string>) | null;
  private readonly _tokenTransport: "subprotocol" | "query";
  private readonly _reconnect: Required<ReconnectOptions> | null;
  private readonly _WebSocket: WebSocketLike;
  private readonly _callOptions: CallManagerOptions;
  private _state: ConnectionState = "idle";
  private _ws: WebSocket | null = null;
  private _socketGen = 0;
  private _seq = 0;
  private readonly _inflight = new Map<string, Pending>();
  private _outbox: Pending[] = [];
  private readonly _rooms = new Map<string, Room>();
  private readonly _seenNotifications = new Set<string>();
  private _unread: number | null = null;
  private _resyncing = false;
  private _attempt = 0;
  private _reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private _abortOpen: ((error: RoomcastError) => void) | null = null;
  private _everOpened = false;
  // A handshake was refused 401/403 once: the next attempt (a fresh token) is its last chance.
  private _refusedOnce = false;
  // Set by a `disconnected` frame: the server closes the socket next; no reconnect.
  private _endedByServer = false;
  // A room.closed left no room to rejoin: the server's close that follows is the end.
  private _endedByRoomClosure = false;
  private _calls: CallManager | null = null;
  private readonly _onOnline = () => {
    if (this._state === "reconnecting" && this._reconnectTimer !== null) {
      clearTimeout(this._reconnectTimer);
      this._reconnectTimer = null;
      void this._attemptReconnect();
    }
  };

  constructor(options: RoomcastClientOptions) {
    super();
    if (!options || typeof options.url !== "string") {
      throw new RoomcastError("invalid_argument", "options.url is required");
    }
    if (!options.token && typeof options.getToken !== "function") {
      throw new RoomcastError("invalid_argument", "options.token or options.getToken is required");
    }
    this.url = options.url;
    this._token = options.token ?? null;
    this._getToken = options.getToken ?? null;
    this._tokenTransport = options.tokenTransport ?? "subprotocol";
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.sendTimeoutMs = options.sendTimeoutMs ?? 60_000;
    this.heartbeatMs = options.heartbeatMs ?? 5 * 60_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
    this.typingThrottleMs = options.typingThrottleMs ?? 3_000;
    this.typingTimeoutMs = options.typingTimeoutMs ?? 6_000;
    this.catchUpMaxMessages = options.catchUpMaxMessages ?? 1_000;
    this._reconnect =
      options.reconnect === false
        ? null
        : { minDelayMs: 500, maxDelayMs: 30_000, maxAttempts: Infinity, ...(options.reconnect ?? {}) };
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketLike }).WebSocket;
    if (!WebSocketImpl) {
      throw new RoomcastError("invalid_argument", "no WebSocket implementation: pass options.WebSocket");
    }
    this._WebSocket = WebSocketImpl;
    this._callOptions = options.calls ?? {};
  }

  /** "idle" | "connecting" | "open" | "reconnecting" | "closed" */
  get state(): ConnectionState {
    return this._state;
  }

  /** The current WebSocket (diagnostics and tests; do not send on it directly). */
  get socket(): WebSocket | null {
    return this._ws;
  }

  /** The inbox's unread count, once the server told it (joined, inbox, notifications); else null. */
  get unread(): number | null {
    return this._unread;
  }

  /** Every room handle made so far, whatever its state. */
  get rooms(): Room[] {
    return [...this._rooms.values()];
  }

  /** The handle of a room: the same object for the same id, for the client's lifetime. */
  room(id: string): Room {
    if (typeof id !== "string" || id === "") throw new RoomcastError("invalid_argument", "a room id is required");
    let room = this._rooms.get(id);
    if (!room) {
      room = new Room(this, id);
      this._rooms.set(id, room);
    }
    return room;
  }

  /** 1:1 WebRTC calls (created on first use; needs RTCPeerConnection and getUserMedia). */
  get calls(): CallManager {
    if (!this._calls) this._calls = new CallManager(this, this._callOptions);
    return this._calls;
  }

  // ------------------------------------------------------------------ connection

  /**
   * Open the connection. Resolves once the socket is open. The first attempt rejects with
   * "connect_failed" when it fails (browsers do not show why a handshake failed), or with
   * UnauthorizedError when the handshake was refused 401/403 twice or getToken() threw it.
   * After one success, drops are retried automatically.
   */
  async connect(): Promise<void> {
    if (this._state === "open") return;
    if (this._state === "connecting" || this._state === "reconnecting") return this._waitForOpen();
    this._setState("connecting");
    this._endedByServer = false;
    this._endedByRoomClosure = false;
    this._refusedOnce = false;
    if (typeof window !== "undefined" && window.addEventListener) window.addEventListener("online", this._onOnline);
    for (;;) {
      try {
        await this._open();
        return;
      } catch (error) {
        if ((this._state as ConnectionState) !== "connecting") throw error;
        if (this._authorizationFailed(error)) {
          if ((this._state as ConnectionState) === "connecting") continue; // one more try with a fresh token
          throw this._lastUnauthorized;
        }
        this._close("connect_failed", new RoomcastError("connect_failed", "the connection failed"));
        throw error;
      }
    }
  }

  /** Close deliberately: no reconnect; pending requests fail with "disconnected"; rooms are left. */
  disconnect(code = CLOSE_NORMAL, reason = "client disconnect"): void {
    const ws = this._ws;
    this._ws = null;
    if (this._abortOpen) this._abortOpen(new RoomcastError("disconnected", "disconnect() was called"));
    this._abortOpen = null;
    this._close("disconnect", new RoomcastError("disconnected", "the client disconnected"), { code, reason });
    if (ws) {
      detach(ws);
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  private _lastUnauthorized: UnauthorizedError | null = null;

  /**
   * A failed attempt that says "not authorized": the first 401/403 asks for one more try
   * (true, state unchanged); the second, or getToken() throwing UnauthorizedError, ends the
   * client (true, state closed). Anything else: false.
   */
  private _authorizationFailed(error: unknown): boolean {
    if (error instanceof UnauthorizedError) {
      this._unauthorized(error);
      return true;
    }
    const status = error instanceof RoomcastError ? error.status : null;
    if (status !== 401 && status !== 403) return false;
    if (!this._refusedOnce) {
      this._refusedOnce = true;
      return true;
    }
    this._unauthorized(new UnauthorizedError(`the handshake was refused with ${status}`, status));
    return true;
  }

  private _unauthorized(error: UnauthorizedError): void {
    this._lastUnauthorized = error;
    this._close("unauthorized", error);
    this.emit("unauthorized", { status: error.status, message: error.message });
  }

  /** Stop for good: no reconnect, everything pending fails, every room is left. */
  private _close(cause: string, error: RoomcastError, close: { code?: number; reason?: string } = {}): void {
    if (this._state === "idle") return;
    this._clearTimers();
    if (typeof window !== "undefined" && window.removeEventListener) {
      window.removeEventListener("online", this._onOnline);
    }
    this._failAll(error);
    this._everOpened = false; // a later connect() is a fresh start, not a reconnect
    this._resyncing = false;
    for (const room of this._rooms.values()) room._connectionEnded(cause === "disconnect" ? "left" : cause);
    if (this._state !== "closed") this._setState("closed", { cause, ...close });
  }

  private _setState(state: ConnectionState, extra: Partial<ConnectionStateDetail> = {}): void {
    const previous = this._state;
    this._state = state;
    if (previous === state && state !== "reconnecting") return;
    this.emit("state", { state, previous, ...extra });
  }

  private _waitForOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const off = this.on("state", (detail) => {
        if (detail.state === "open") {
          off();
          resolve();
        } else if (detail.state === "closed") {
          off();
          reject(
            detail.cause === "unauthorized" && this._lastUnauthorized
              ? this._lastUnauthorized
              : new RoomcastError("connect_failed", "the connection closed"),
          );
        }
      });
    });
  }

  private async _currentToken(): Promise<string> {
    if (this._getToken) {
      let token: string;
      try {
        token = await this._getToken();
      } catch (error) {
        if (error instanceof UnauthorizedError) throw error;
        throw new RoomcastError("connect_failed", `getToken() failed: ${describe(error)}`);
      }
      if (typeof token !== "string" || !token) {
        throw new RoomcastError("connect_failed", "getToken() returned no token");
      }
      return token;
    }
    return this._token as string;
  }

  /** Open one socket; resolves on open, rejects if it closes or errors first. */
  private async _open(): Promise<void> {
    const token = await this._currentToken();
    if (this._state === "closed") throw new RoomcastError("disconnected", "disconnected");
    let url = this.url;
    let protocols = [PROTOCOL, token];
    if (this._tokenTransport === "query") {
      url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
      protocols = [PROTOCOL];
    }
    const ws = new this._WebSocket(url, protocols);
    const gen = ++this._socketGen;
    this._ws = ws;
    await new Promise<void>((resolve, reject) => {
      let opened = false;
      let status: number | null = null;
      // disconnect() detaches the socket's handlers; this lets it end the wait too.
      this._abortOpen = reject;
      ws.onopen = () => {
        opened = true;
        this._abortOpen = null;
        resolve();
      };
      ws.onerror = (event: Event) => {
        // Browsers never say why a handshake failed; some implementations do (Node's `ws`:
        // "Unexpected server response: 401"). The close that follows decides what happens.
        if (!opened) status = handshakeStatus(event) ?? status;
      };
      ws.onclose = (event: CloseEvent) => {
        if (!opened) {
          this._abortOpen = null;
          const why = status ? `the handshake was refused with ${status}` : `the connection was refused or dropped (close code ${event.code})`;
          reject(new RoomcastError("connect_failed", why, { status }));
          return;
        }
        this._handleClose(ws, gen, event);
      };
      ws.onmessage = (event: MessageEvent) => this._handleData(event.data);
    });
    // disconnect() may have run while we awaited the handshake.
    if (this._ws !== ws || (this._state as ConnectionState) === "closed") {
      throw new RoomcastError("disconnected", "disconnected while connecting");
    }
    const reconnect = this._everOpened;
    const attempts = this._attempt;
    this._everOpened = true;
    this._attempt = 0;
    this._refusedOnce = false;
    this._scheduleHeartbeat();
    if (reconnect) this._resyncing = true; // rooms rejoin before anything else is written
    this._setState("open");
    if (reconnect) {
      await this._resync(attempts);
    } else {
      this._flushOutbox();
    }
  }

  private _handleClose(ws: WebSocket, gen: number, event: { code: number; reason: string; wasClean?: boolean }): void {
    if (gen !== this._socketGen || this._ws !== ws) return; // an old socket, already replaced
    this._ws = null;
    this._clearHeartbeat();
    if (this._state === "closed") return;
    this._failInflight(gen);
    if (this._endedByServer) {
      this._close("disconnected", new RoomcastError("disconnected", "the server disconnected this connection"), event);
      return;
    }
    // The server closes a closed room's members: when no room is left to rejoin, that is
    // the end of the conversation, not a failure to recover from.
    const rejoin = [...this._rooms.values()].filter((room) => room._wantsRejoin());
    if (rejoin.length === 0 && this._endedByRoomClosure) {
      this._close("room_closed", new RoomcastError("disconnected", "the connection closed"), event);
      return;
    }
    if (this._reconnect === null) {
      this._close("connect_failed", new RoomcastError("disconnected", "the connection closed"), event);
      return;
    }
    for (const room of rejoin) room._connectionLost();
    this._scheduleReconnect(event);
  }

  /** Drop the current socket (no close handshake wait) and go through the reconnect path. */
  private _forceReconnect(code: number, reason: string): void {
    const ws = this._ws;
    if (!ws) return;
    const gen = this._socketGen;
    detach(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    this._handleClose(ws, gen, { code, reason, wasClean: false });
  }

  private _scheduleReconnect(close: { code?: number; reason?: string } = {}): void {
    const options = this._reconnect as Required<ReconnectOptions>;
    if (this._attempt >= options.maxAttempts) {
      this._close("gave_up", new RoomcastError("disconnected", "gave up reconnecting"));
      return;
    }
    // Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^n)],
    // so a server restart does not get every client back in the same instant.
    const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** this._attempt);
    const delayMs = Math.round(Math.random() * ceiling);
    this._attempt += 1;
    this._setState("reconnecting", { attempt: this._attempt, delayMs, code: close.code, reason: close.reason });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      void this._attemptReconnect();
    }, delayMs);
  }

  /** Reconnect now instead of waiting out the backoff (a "Retry now" button). */
  retryNow(): void {
    this._onOnline();
  }

  private async _attemptReconnect(): Promise<void> {
    if (this._state !== "reconnecting") return;
    try {
      await this._open();
    } catch (error) {
      if (this._state !== "reconnecting") return;
      if (this._authorizationFailed(error)) {
        if (this._state === "reconnecting") void this._attemptReconnect(); // at once, with a fresh token
        return;
      }
      this.emit("error", { error, frame: null });
      this._scheduleReconnect();
    }
  }

  /** After a reconnect: rejoin rooms (they catch up), resend, then flush the outbox. */
  private async _resync(attempts: number): Promise<void> {
    const gen = this._socketGen;
    try {
      for (const room of [...this._rooms.values()]) {
        if (gen !== this._socketGen) return; // dropped again; the next open resyncs
        if (room._wantsRejoin()) await room._rejoin();
      }
    } finally {
      if (gen === this._socketGen) this._resyncing = false;
    }
    if (gen !== this._socketGen || this._state !== "open") return;
    this._flushOutbox();
    const rooms = [...this._rooms.values()].filter((r) => r.state === "joined").map((r) => r.id);
    this.emit("reconnected", { attempts, rooms });
  }

  /** @internal A room of this client was closed (room.closed, or a rejoin refused as gone). */
  _roomClosed(): void {
    this._endedByRoomClosure = ![...this._rooms.values()].some((room) => room._wantsRejoin());
  }

  /** @internal A room was joined: a later close of the socket is not the end of the conversation. */
  _roomJoined(): void {
    this._endedByRoomClosure = false;
  }

  /** @internal A rejoin that timed out: the new socket does not answer; go round again. */
  _rejoinTimedOut(): void {
    this._forceReconnect(CLOSE_HEARTBEAT, "rejoin timeout");
  }

  // ------------------------------------------------------------------ heartbeats

  private _scheduleHeartbeat(): void {
    this._clearHeartbeat();
    if (!this.heartbeatMs) return;
    this._heartbeatTimer = setTimeout(() => {
      this._heartbeatTimer = null;
      const gen = this._socketGen;
      this._request({ action: "ping" }, { internal: true, timeoutMs: this.pongTimeoutMs }).then(
        () => {
          if (gen === this._socketGen && this._state === "open") this._scheduleHeartbeat();
        },
        (error: RoomcastError) => {
          // No pong: the socket is half-open (a NAT or proxy dropped it silently). Reconnect.
          if (gen === this._socketGen && error.code === "timeout") this._forceReconnect(CLOSE_HEARTBEAT, "heartbeat timeout");
        },
      );
    }, this.heartbeatMs);
  }

  private _clearHeartbeat(): void {
    if (this._heartbeatTimer !== null) clearTimeout(this._heartbeatTimer);
    this._heartbeatTimer = null;
  }

  private _clearTimers(): void {
    this._clearHeartbeat();
    if (this._reconnectTimer !== null) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
  }

  // ------------------------------------------------------------------ requests

  /**
   * Send any client frame and wait for the reply that echoes its `request_id` (assigned
   * here when missing). Rejects with RoomcastError: the server's code, or "timeout",
   * "disconnected", "not_connected", "payload_too_large" (over 32 KB, checked first).
   */
  request<T = ServerFrame>(frame: ClientFrame, options: RequestOptions = {}): Promise<T> {
    return this._request(frame as unknown as Record<string, unknown> & { action: string }, { timeoutMs: options.timeoutMs });
  }

  /**
   * Fire and forget (no request_id, no reply). Dropped when not open (or still rejoining
   * after a reconnect): for ephemeral frames such as typing. Returns whether it was written.
   */
  notify(frame: ClientFrame): boolean {
    if (this._state !== "open" || !this._ws || this._resyncing) return false;
    const text = JSON.stringify(frame);
    if (byteLength(text) > MAX_FRAME_BYTES) {
      throw new RoomcastError("payload_too_large", "frames are limited to 32 KB");
    }
    this._ws.send(text);
    return true;
  }

  /** Round trip to the server; resolves with the `pong` frame. */
  ping(): Promise<PongFrame> {
    return this._request({ action: "ping" }, {});
  }

  /**
   * The inbox of stored notifications, newest first: marks `markRead` read first, then
   * answers a page (`limit` 0: only the unread count). Pass `next_cursor` back as `before`.
   */
  inbox(options: { before?: string | null; limit?: number; markRead?: string[]; timeoutMs?: number } = {}): Promise<InboxFrame> {
    const frame: Record<string, unknown> & { action: string } = { action: "inbox" };
    if (options.before) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    if (options.markRead?.length) frame.mark_read = options.markRead;
    return this._request(frame, { timeoutMs: options.timeoutMs });
  }

  /** @internal */
  _request<T = any>(frame: Record<string, unknown> & { action: string }, options: InternalRequestOptions): Promise<T> {
    if (!frame || typeof frame.action !== "string") {
      return Promise.reject(new RoomcastError("invalid_argument", "a frame needs an action"));
    }
    if (this._state === "idle" || this._state === "closed") {
      return Promise.reject(new RoomcastError("not_connected", "call connect() first"));
    }
    this._seq += 1;
    const id = (frame.request_id as string | undefined) ?? `r${this._seq.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const wire = { ...frame, request_id: id };
    if (byteLength(JSON.stringify(wire)) > MAX_FRAME_BYTES) {
      return Promise.reject(new RoomcastError("payload_too_large", "frames are limited to 32 KB", { requestId: id }));
    }
    const timeoutMs = options.timeoutMs ?? (frame.action === "send" ? this.sendTimeoutMs : this.requestTimeoutMs);
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        id,
        frame: wire,
        resolve,
        reject,
        timer: null,
        seq: this._seq,
        retry: options.retry ?? false,
        socketGen: 0,
      };
      entry.timer = setTimeout(() => {
        this._settle(entry);
        reject(new RoomcastError("timeout", `no reply to ${frame.action} within ${timeoutMs} ms`, { requestId: id }));
      }, timeoutMs);
      if (this._state === "open" && this._ws && (options.internal || !this._resyncing)) {
        this._write(entry);
      } else {
        this._outbox.push(entry);
      }
    });
  }

  private _write(entry: Pending): void {
    const ws = this._ws as WebSocket;
    entry.socketGen = this._socketGen;
    this._inflight.set(entry.id, entry);
    ws.send(JSON.stringify(entry.frame));
  }

  /** Remove a request from every queue and stop its clock. */
  private _settle(entry: Pending): void {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    this._inflight.delete(entry.id);
    const at = this._outbox.indexOf(entry);
    if (at >= 0) this._outbox.splice(at, 1);
  }

  private _flushOutbox(): void {
    const queued = this._outbox;
    this._outbox = [];
    for (const entry of queued) {
      if (this._state !== "open" || !this._ws) {
        this._outbox.push(entry);
        continue;
      }
      const roomId = entry.frame.action === "send" ? (entry.frame.room_id as string) : null;
      const room = roomId ? this._rooms.get(roomId) : undefined;
      if (roomId && room?.state !== "joined") {
        this._settle(entry);
        entry.reject(new RoomcastError(room?.refusal ?? "not_member", "the room is no longer joined", { requestId: entry.id }));
        continue;
      }
      this._write(entry);
    }
  }

  /** A socket closed: what was written on it either waits for the next one or fails. */
  private _failInflight(gen: number): void {
    for (const entry of [...this._inflight.values()]) {
      if (entry.socketGen !== gen) continue;
      this._inflight.delete(entry.id);
      if (entry.retry) {
        entry.socketGen = 0;
        this._outbox.push(entry);
      } else {
        this._settle(entry);
        entry.reject(new RoomcastError("disconnected", "the connection closed before the reply", { requestId: entry.id }));
      }
    }
    // Keep resends in their original order.
    this._outbox.sort((a, b) => a.seq - b.seq);
  }

  private _failAll(error: RoomcastError): void {
    for (const entry of [...this._inflight.values(), ...this._outbox]) {
      this._settle(entry);
      entry.reject(new RoomcastError(error.code, error.message, { requestId: entry.id, status: error.status }));
    }
  }

  /** @internal Fail the sends of one room (it was left, closed, or we were put out). */
  _failRoomSends(roomId: string, code: string): void {
    for (const entry of [...this._inflight.values(), ...this._outbox]) {
      if (entry.frame.action === "send" && entry.frame.room_id === roomId) {
        this._settle(entry);
        entry.reject(new RoomcastError(code, "the room is no longer available", { requestId: entry.id }));
      }
    }
  }

  // ------------------------------------------------------------------ incoming frames

  private _handleData(data: unknown): void {
    if (typeof data !== "string") return; // the protocol is JSON text only
    let frame: any;
    try {
      frame = JSON.parse(data);
    } catch {
      this.emit("error", { error: new RoomcastError("invalid_frame", "the server sent a frame that is not JSON"), frame: null });
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    this.emit("frame", frame);
    const entry = frame.request_id ? this._inflight.get(frame.request_id) : undefined;
    if (entry) {
      this._settle(entry);
      if (frame.type === "error") {
        entry.reject(new RoomcastError(frame.code, frame.message, { requestId: frame.request_id, frame }));
      } else {
        entry.resolve(frame);
      }
    } else if (frame.type === "error") {
      this.emit("error", {
        error: new RoomcastError(frame.code, frame.message, { requestId: frame.request_id ?? null, frame }),
        frame,
      });
    }
    this._dispatch(frame);
  }

  private _dispatch(frame: any): void {
    const type: string = frame.type;
    if (type === "joined" || type === "inbox") {
      if (typeof frame.unread === "number") this._setUnread(frame.unread);
      return; // a join's reply is the Room's business (it awaits it)
    }
    if (type === "notification") {
      const id = frame.notification?.id;
      if (typeof id !== "string" || this._seenNotifications.has(id)) return;
      this._seenNotifications.add(id);
      if (this._seenNotifications.size > SEEN_NOTIFICATIONS) {
        this._seenNotifications.delete(this._seenNotifications.values().next().value as string);
      }
      this.emit("notification", frame);
      if (frame.notification?.inbox) this._setUnread((this._unread ?? 0) + 1);
      return;
    }
    if (type === "disconnected") {
      // The server closes this socket next; do not reconnect over a forced disconnect.
      this._endedByServer = true;
      this.emit("disconnected", frame);
      return;
    }
    if (SIGNAL_TYPES.has(type)) {
      this.emit("signal", frame);
      return;
    }
    const roomId: unknown = type === "message" ? frame.message?.room_id : frame.room_id;
    if (typeof roomId === "string") this._rooms.get(roomId)?._handleFrame(frame);
  }

  private _setUnread(unread: number): void {
    if (unread === this._unread) return;
    this._unread = unread;
    this.emit("unread", { unread });
  }
}

function detach(ws: WebSocket): void {
  ws.onopen = null;
  ws.onclose = null;
  ws.onerror = null;
  ws.onmessage = null;
}

/** The HTTP status of a refused handshake, when the error event carries one. */
function handshakeStatus(event: unknown): number | null {
  const e = event as { status?: unknown; message?: unknown; error?: { message?: unknown; status?: unknown } } | null;
  for (const value of [e?.status, e?.error?.status]) {
    if (typeof value === "number" && value >= 100 && value < 600) return value;
  }
  for (const text of [e?.message, e?.error?.message]) {
    const match = typeof text === "string" ? /Unexpected server response: (\d{3})/.exec(text) : null;
    if (match) return Number(match[1]);
  }
  return null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** A fresh client_msg_id (randomUUID needs a secure context; fall back elsewhere). */
export function newClientMsgId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
