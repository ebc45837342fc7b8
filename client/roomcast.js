// roomcast browser client: an ES module with no build step and no dependencies.
// Types: roomcast.d.ts (next to this file) and the JSDoc below. Protocol: docs/protocol.md.
//
// What it does on top of a bare WebSocket:
// - the connect token travels as a WebSocket subprotocol entry (["roomcast.v1", token]);
// - request/reply correlation through `request_id`, with per-request timeouts;
// - heartbeats (`ping`) below API Gateway's 10-minute idle timeout; a missing pong reconnects;
// - automatic reconnect with exponential backoff and full jitter, then: rejoin every room,
//   fetch what was missed through `history`, emit it in order, and resend unacknowledged
//   `send`s with their original `client_msg_id` (the server makes that resend idempotent);
// - events for messages, presence, typing, signaling and room closure;
// - server-side messaging: notifications (the user's own and broadcasts), the inbox and its
//   unread count, and streamed messages assembled in seq order ("stream" events).

/** The subprotocol the server echoes; the token rides next to it. */
export const PROTOCOL = "roomcast.v1";
/** API Gateway's WebSocket frame limit; bigger frames would close the socket with 1009. */
export const MAX_FRAME_BYTES = 32 * 1024;
/** The server's history page limit. */
export const MAX_HISTORY_LIMIT = 100;

const DEFAULTS = Object.freeze({
  requestTimeoutMs: 10_000,
  // Sends survive reconnects (they are resent after the rejoin), so they get a longer clock.
  sendTimeoutMs: 60_000,
  // API Gateway closes a connection idle for 10 minutes; 5 minutes leaves a wide margin.
  heartbeatMs: 5 * 60_000,
  pongTimeoutMs: 10_000,
  typingThrottleMs: 3_000,
  // Catch-up after a reconnect stops after this many messages and emits "gap" instead.
  catchUpMaxMessages: 1_000,
  reconnect: Object.freeze({ minDelayMs: 500, maxDelayMs: 30_000, maxAttempts: Infinity }),
});

// Frame types the server may use for WebRTC signaling (docs/signaling.md); anything "call-*" too.
const SIGNAL_TYPES = new Set(["signal", "offer", "answer", "ice-candidate"]);
// Ids of messages already emitted, per room, to drop duplicates (live vs. catch-up overlap).
const SEEN_IDS_PER_ROOM = 2_000;
// Ids of notifications already emitted: a broadcast's range job may be delivered twice.
const SEEN_NOTIFICATIONS = 500;
// WebSocket.close() accepts only 1000 or 3000-4999 from scripts.
const CLOSE_NORMAL = 1000;
const CLOSE_HEARTBEAT = 4000;

/** An error frame from the server, or a client-side failure (timeout, disconnected, ...). */
export class RoomcastError extends Error {
  /**
   * @param {string} code stable machine-readable code (server codes: docs/protocol.md;
   *   client codes: "timeout", "disconnected", "not_connected", "connect_failed",
   *   "payload_too_large", "room_closed", "invalid_argument")
   * @param {string} message
   * @param {string | null} [requestId]
   * @param {object | null} [frame] the error frame, when the server sent one
   */
  constructor(code, message, requestId = null, frame = null) {
    super(message);
    this.name = "RoomcastError";
    this.code = code;
    this.requestId = requestId;
    this.frame = frame;
  }
}

/**
 * @typedef {object} ReconnectOptions
 * @property {number} [minDelayMs] first backoff step (before jitter)
 * @property {number} [maxDelayMs] backoff cap
 * @property {number} [maxAttempts] give up after this many failed attempts (default: never)
 */

/**
 * @typedef {object} RoomcastClientOptions
 * @property {string} url WebSocket URL (wss://.../prod, or ws://127.0.0.1:PORT locally)
 * @property {string} [token] a connect token (JWT); fine for one connection's lifetime
 * @property {() => (string | Promise<string>)} [getToken] called before every connect and
 *   reconnect: use it to fetch a fresh token from your backend (tokens expire)
 * @property {"subprotocol" | "query"} [tokenTransport] default "subprotocol"
 * @property {number} [requestTimeoutMs]
 * @property {number} [sendTimeoutMs]
 * @property {number} [heartbeatMs] 0 disables heartbeats
 * @property {number} [pongTimeoutMs]
 * @property {number} [typingThrottleMs]
 * @property {number} [catchUpMaxMessages]
 * @property {ReconnectOptions | false} [reconnect] false disables automatic reconnect
 * @property {typeof WebSocket} [WebSocket] WebSocket implementation (tests, non-browser hosts)
 */

/**
 * @typedef {object} Pending
 * @property {string} id
 * @property {number} seq issue order (resends keep it)
 * @property {any} frame
 * @property {(frame: any) => void} resolve
 * @property {(error: RoomcastError) => void} reject
 * @property {ReturnType<typeof setTimeout> | null} timer
 * @property {boolean} retry resend after a reconnect instead of failing
 * @property {number} socketGen generation of the socket it was written to (0 = not written)
 */

/**
 * One room as the client tracks it while joined.
 * @typedef {object} RoomState
 * @property {string} roomId
 * @property {number | undefined} historyLimit
 * @property {Map<string, any>} members user_id -> member
 * @property {string | null} lastId newest message id received (live, join or history)
 * @property {boolean} emptyAtJoin the join saw no messages at all (so everything later is new)
 * @property {Set<string>} seen ids already emitted or acknowledged
 * @property {any[] | null} buffer live messages held while a catch-up runs (null: not catching up)
 */

/**
 * @typedef {object} StreamState
 * @property {string} roomId
 * @property {string} messageId
 * @property {string} userId
 * @property {string} name
 * @property {string} senderKind
 * @property {string} text the chunks 0..nextSeq-1, joined
 * @property {number} nextSeq
 * @property {Map<number, string>} held chunks after a gap
 */

/**
 * The roomcast WebSocket client.
 *
 * Events (CustomEvent; `event.detail` is the frame as received, unless noted):
 * "message", "member.joined", "member.left", "presence" ({type, room_id, members}),
 * "typing", "room.closed", "signal", "notification" (an admin broadcast or a notification
 * to this user, once per id), "unread" ({unread}: the inbox's unread count changed),
 * "message.delta" (raw), "stream" ({room_id, message_id, user_id, name, sender_kind, text,
 * done}: a streamed message's text so far, in seq order; done with the whole text),
 * "kicked" (out of a room: kick, ban or removal; the room is no longer rejoined), "muted",
 * "unmuted", "message.deleted", "disconnected" (the server closes the socket next and the
 * client does not reconnect), "frame" (every frame received, raw), "open"
 * ({reconnect}), "close" ({code, reason, wasClean, willReconnect}), "reconnecting"
 * ({attempt, delayMs}), "reconnected" ({attempts, rooms}), "gap" ({room_id, reason}),
 * "error" ({error, frame}).
 */
export class RoomcastClient extends EventTarget {
  /** @param {RoomcastClientOptions} options */
  constructor(options) {
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
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
    this.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULTS.sendTimeoutMs;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULTS.heartbeatMs;
    this.pongTimeoutMs = options.pongTimeoutMs ?? DEFAULTS.pongTimeoutMs;
    this.typingThrottleMs = options.typingThrottleMs ?? DEFAULTS.typingThrottleMs;
    this.catchUpMaxMessages = options.catchUpMaxMessages ?? DEFAULTS.catchUpMaxMessages;
    /** @type {Required<ReconnectOptions> | null} */
    this._reconnect =
      options.reconnect === false ? null : { ...DEFAULTS.reconnect, ...(options.reconnect || {}) };
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;

    /** @type {"idle" | "connecting" | "open" | "reconnecting" | "closed"} */
    this._state = "idle";
    /** @type {WebSocket | null} */
    this._ws = null;
    this._socketGen = 0;
    this._seq = 0;
    /** @type {Map<string, Pending>} requests written and awaiting a reply */
    this._inflight = new Map();
    /** @type {Pending[]} requests waiting for an open (and resynced) socket */
    this._outbox = [];
    /** @type {Map<string, RoomState>} */
    this._rooms = new Map();
    /** @type {Set<string>} */
    this._seenNotifications = new Set();
    /** @type {Map<string, StreamState>} streamed messages being assembled, by message id */
    this._streams = new Map();
    /** @type {number | null} the inbox's unread count, once the server told it */
    this._unread = null;
    this._resyncing = false;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._heartbeatTimer = null;
    /** @type {((error: RoomcastError) => void) | null} rejects the handshake being awaited */
    this._abortOpen = null;
    this._everOpened = false;
    // Set when a room.closed left the client with no rooms: the server's close that follows
    // is the end of the conversation, not a failure to recover from.
    this._endedByRoomClosure = false;
    // Set by a `disconnected` frame (the server closes the socket on purpose: no reconnect).
    this._endedByServer = false;
    /** @type {Map<string, {sentAt: number, typing: boolean}>} */
    this._typingSent = new Map();
    this._onOnline = () => {
      if (this._state === "reconnecting" && this._reconnectTimer !== null) {
        clearTimeout(this._reconnectTimer);
        this._reconnectTimer = null;
        void this._attemptReconnect();
      }
    };
  }

  /** "idle" | "connecting" | "open" | "reconnecting" | "closed" */
  get state() {
    return this._state;
  }

  /** The current WebSocket (diagnostics and tests; do not send on it directly). */
  get socket() {
    return this._ws;
  }

  /** The inbox's unread count (from `joined`, `inbox` and stored notifications), or null. */
  get unread() {
    return this._unread;
  }

  /**
   * The text so far of a streamed message being received, or null.
   * @param {string} messageId
   */
  streamText(messageId) {
    return this._streams.get(messageId)?.text ?? null;
  }

  /** Ids of the rooms this client is joined to (and rejoins after a reconnect). */
  get rooms() {
    return [...this._rooms.keys()];
  }

  /**
   * The current presence list of a joined room: one entry per user.
   * @param {string} roomId
   */
  members(roomId) {
    const room = this._rooms.get(roomId);
    return room ? [...room.members.values()].map((m) => ({ ...m })) : [];
  }

  /**
   * Newest message id this client has received in a room (catch-up starts after it).
   * @param {string} roomId
   */
  lastMessageId(roomId) {
    return this._rooms.get(roomId)?.lastId ?? null;
  }

  // ------------------------------------------------------------------ connection

  /**
   * Open the connection. Resolves once the socket is open; rejects with "connect_failed"
   * when the first attempt fails (a bad or expired token looks like this: browsers do not
   * expose the HTTP status of a refused handshake). After a first success, drops are
   * retried automatically.
   * @returns {Promise<void>}
   */
  async connect() {
    if (this._state === "open") return;
    if (this._state === "connecting" || this._state === "reconnecting") return this._waitForOpen();
    this._state = "connecting";
    this._endedByRoomClosure = false;
    this._endedByServer = false;
    if (typeof window !== "undefined" && window.addEventListener) {
      window.addEventListener("online", this._onOnline);
    }
    try {
      await this._open();
    } catch (error) {
      if (this._state === "connecting") {
        this._state = "closed";
        this._failAll(new RoomcastError("connect_failed", "the connection failed"), true);
      }
      throw error;
    }
  }

  /**
   * Close deliberately: no reconnect; pending requests fail with "disconnected".
   * @param {number} [code]
   * @param {string} [reason]
   */
  disconnect(code = CLOSE_NORMAL, reason = "client disconnect") {
    const previous = this._state;
    this._state = "closed";
    this._clearTimers();
    if (typeof window !== "undefined" && window.removeEventListener) {
      window.removeEventListener("online", this._onOnline);
    }
    const ws = this._ws;
    this._ws = null;
    this._failAll(new RoomcastError("disconnected", "the client disconnected"), true);
    this._rooms.clear();
    this._everOpened = false; // a later connect() is a fresh start, not a reconnect
    if (this._abortOpen) this._abortOpen(new RoomcastError("disconnected", "disconnect() was called"));
    this._abortOpen = null;
    if (ws) {
      detach(ws);
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
    if (previous !== "closed" && previous !== "idle") {
      this._emit("close", { code, reason, wasClean: true, willReconnect: false });
    }
  }

  _waitForOpen() {
    return new Promise((resolve, reject) => {
      const onOpen = () => {
        cleanup();
        resolve(undefined);
      };
      const onClose = (/** @type {any} */ event) => {
        if (event.detail?.willReconnect) return;
        cleanup();
        reject(new RoomcastError("connect_failed", "the connection closed"));
      };
      const cleanup = () => {
        this.removeEventListener("open", onOpen);
        this.removeEventListener("close", onClose);
      };
      this.addEventListener("open", onOpen);
      this.addEventListener("close", onClose);
    });
  }

  async _currentToken() {
    if (this._getToken) {
      const token = await this._getToken();
      if (typeof token !== "string" || !token) {
        throw new RoomcastError("connect_failed", "getToken() returned no token");
      }
      return token;
    }
    return /** @type {string} */ (this._token);
  }

  /** Open one socket; resolves on open, rejects if it closes or errors first. */
  async _open() {
    const token = await this._currentToken();
    if (this._state === "closed") throw new RoomcastError("disconnected", "disconnected");
    let url = this.url;
    /** @type {string[]} */
    let protocols = [PROTOCOL, token];
    if (this._tokenTransport === "query") {
      url += (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
      protocols = [PROTOCOL];
    }
    const ws = new this._WebSocket(url, protocols);
    const gen = ++this._socketGen;
    this._ws = ws;
    await new Promise((resolve, reject) => {
      let opened = false;
      // disconnect() detaches the socket's handlers; this lets it end the wait too.
      this._abortOpen = reject;
      ws.onopen = () => {
        opened = true;
        this._abortOpen = null;
        resolve(undefined);
      };
      ws.onclose = (event) => {
        if (!opened) {
          this._abortOpen = null;
          reject(
            new RoomcastError(
              "connect_failed",
              `the connection was refused or dropped (close code ${event.code})`,
            ),
          );
          return;
        }
        this._handleClose(ws, gen, event);
      };
      ws.onerror = () => {
        // Browsers follow every error with a close event; the close decides what happens.
      };
      ws.onmessage = (event) => this._handleData(event.data);
    });
    // disconnect() may have run while we awaited the handshake (checkJs cannot see that).
    if (this._ws !== ws || /** @type {string} */ (this._state) === "closed") {
      throw new RoomcastError("disconnected", "disconnected while connecting");
    }
    const reconnect = this._everOpened;
    const attempts = this._attempt;
    this._everOpened = true;
    this._state = "open";
    this._attempt = 0;
    this._scheduleHeartbeat();
    this._emit("open", { reconnect });
    if (reconnect) {
      await this._resync(attempts);
    } else {
      this._flushOutbox();
    }
  }

  /** @param {WebSocket} ws @param {number} gen @param {CloseEvent} event */
  _handleClose(ws, gen, event) {
    if (gen !== this._socketGen || this._ws !== ws) return; // an old socket, already replaced
    this._ws = null;
    this._clearHeartbeat();
    const deliberate = this._state === "closed";
    // A server-side disconnect (`disconnected`: a forced logout) is not undone by a reconnect.
    const ended = (this._endedByRoomClosure && this._rooms.size === 0) || this._endedByServer;
    const willReconnect = !deliberate && !ended && this._reconnect !== null;
    this._failInflight(gen);
    this._emit("close", {
      code: event.code,
      reason: event.reason,
      wasClean: event.wasClean,
      willReconnect,
    });
    if (willReconnect) {
      this._state = "reconnecting";
      this._scheduleReconnect();
    } else {
      this._state = "closed";
      this._failAll(new RoomcastError("disconnected", "the connection closed"), true);
    }
  }

  /**
   * Drop the current socket (no close handshake wait) and go through the reconnect path.
   * @param {number} code @param {string} reason
   */
  _forceReconnect(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    const gen = this._socketGen;
    detach(ws);
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    this._handleClose(ws, gen, /** @type {any} */ ({ code, reason, wasClean: false }));
  }

  _scheduleReconnect() {
    const options = /** @type {Required<ReconnectOptions>} */ (this._reconnect);
    if (this._attempt >= options.maxAttempts) {
      this._state = "closed";
      this._failAll(new RoomcastError("disconnected", "gave up reconnecting"), true);
      this._emit("close", { code: 0, reason: "gave up reconnecting", wasClean: false, willReconnect: false });
      return;
    }
    // Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^n)],
    // so a server restart does not get every client back in the same instant.
    const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** this._attempt);
    const delayMs = Math.round(Math.random() * ceiling);
    this._attempt += 1;
    this._emit("reconnecting", { attempt: this._attempt, delayMs });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      void this._attemptReconnect();
    }, delayMs);
  }

  async _attemptReconnect() {
    if (this._state !== "reconnecting") return;
    try {
      await this._open();
    } catch (error) {
      if (this._state !== "reconnecting") return;
      this._emit("error", { error, frame: null });
      this._scheduleReconnect();
    }
  }

  /**
   * After a reconnect: rejoin rooms, catch up on history, resend, then flush the outbox.
   * @param {number} attempts
   */
  async _resync(attempts) {
    this._resyncing = true;
    const gen = this._socketGen;
    try {
      for (const room of [...this._rooms.values()]) {
        if (gen !== this._socketGen) return; // dropped again; the next open resyncs
        await this._rejoin(room);
      }
    } finally {
      if (gen === this._socketGen) this._resyncing = false;
    }
    if (gen !== this._socketGen || this._state !== "open") return;
    this._flushOutbox();
    this._emit("reconnected", { attempts, rooms: this.rooms });
  }

  /** @param {RoomState} room */
  async _rejoin(room) {
    room.buffer = [];
    /** @type {any} */
    let joined;
    try {
      joined = await this._request(
        { action: "join", room_id: room.roomId, history_limit: MAX_HISTORY_LIMIT },
        { internal: true },
      );
    } catch (error) {
      room.buffer = null;
      const code = error instanceof RoomcastError ? error.code : "internal_error";
      if (code === "room_closed" || code === "room_not_found" || code === "forbidden") {
        // The room ended (or our access did) while we were away: it is gone for this client.
        this._rooms.delete(room.roomId);
        this._failRoomSends(room.roomId, code);
        const frame = { type: "room.closed", room_id: room.roomId, synthetic: true, reason: code };
        this._emit("room.closed", frame);
      } else if (code === "banned" || code === "members_only") {
        // Banned, or taken off a members-only room, while away: the room stays open but
        // not to us. Told as a `kicked` the client builds (synthetic), not as a closure.
        this._rooms.delete(room.roomId);
        this._failRoomSends(room.roomId, code);
        /** @type {any} */
        const frame = { type: "kicked", room_id: room.roomId, cause: code === "banned" ? "ban" : "removed",
          synthetic: true, reason: error instanceof RoomcastError ? error.message : code };
        if (error instanceof RoomcastError && error.frame?.until) frame.until = error.frame.until;
        this._emit("kicked", frame);
      } else if (code === "timeout") {
        // The new socket does not answer: treat it as broken and go round again.
        this._forceReconnect(CLOSE_HEARTBEAT, "rejoin timeout");
      } else if (code !== "disconnected") {
        this._emit("error", { error, frame: null });
      }
      return;
    }
    this._setPresence(room, joined.members);
    try {
      const missed = await this._catchUp(room, joined.history);
      for (const message of missed) this._emitMessage(room, message, true);
    } catch (error) {
      if (!(error instanceof RoomcastError && error.code === "disconnected")) {
        this._emit("gap", { room_id: room.roomId, reason: error instanceof Error ? error.message : String(error) });
      }
    } finally {
      const buffered = room.buffer ?? [];
      room.buffer = null;
      buffered.sort((a, b) => compareIds(a.message.id, b.message.id));
      for (const frame of buffered) this._emitMessage(room, frame.message, false, frame);
    }
  }

  /**
   * Messages newer than the last one seen, oldest first, paging back with `before`.
   * @param {RoomState} room
   * @param {{messages: any[], next_cursor?: string | null}} firstPage
   */
  async _catchUp(room, firstPage) {
    if (room.lastId === null && !room.emptyAtJoin) {
      // We never learned where this room's history stood (joined with history_limit 0):
      // there is no safe lower bound, so nothing is replayed.
      return [];
    }
    const floor = room.lastId; // null: the room was empty at join, everything is new
    /** @type {any[]} */
    const collected = [];
    let page = firstPage;
    for (;;) {
      const messages = page.messages || [];
      collected.push(...messages);
      const reachedFloor = floor !== null && messages.some((m) => compareIds(m.id, floor) <= 0);
      if (reachedFloor || !page.next_cursor) break;
      if (collected.length >= this.catchUpMaxMessages) {
        this._emit("gap", { room_id: room.roomId, reason: "too many missed messages" });
        break;
      }
      page = await this._request(
        {
          action: "history",
          room_id: room.roomId,
          before: page.next_cursor,
          limit: MAX_HISTORY_LIMIT,
        },
        { internal: true },
      );
    }
    const fresh = collected.filter(
      (m) => (floor === null || compareIds(m.id, floor) > 0) && !room.seen.has(m.id),
    );
    fresh.sort((a, b) => compareIds(a.id, b.id));
    // Pages overlap only at their edges, but dedupe anyway.
    return fresh.filter((m, i) => i === 0 || fresh[i - 1].id !== m.id);
  }

  // ------------------------------------------------------------------ heartbeats

  _scheduleHeartbeat() {
    this._clearHeartbeat();
    if (!this.heartbeatMs) return;
    this._heartbeatTimer = setTimeout(() => {
      this._heartbeatTimer = null;
      const gen = this._socketGen;
      this._request({ action: "ping" }, { internal: true, timeoutMs: this.pongTimeoutMs }).then(
        () => {
          if (gen === this._socketGen && this._state === "open") this._scheduleHeartbeat();
        },
        (error) => {
          // No pong: the socket is half-open (a NAT or proxy dropped it silently). Reconnect.
          if (gen === this._socketGen && error.code === "timeout") {
            this._forceReconnect(CLOSE_HEARTBEAT, "heartbeat timeout");
          }
        },
      );
    }, this.heartbeatMs);
  }

  _clearHeartbeat() {
    if (this._heartbeatTimer !== null) clearTimeout(this._heartbeatTimer);
    this._heartbeatTimer = null;
  }

  _clearTimers() {
    this._clearHeartbeat();
    if (this._reconnectTimer !== null) clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
  }

  // ------------------------------------------------------------------ requests

  /**
   * Send a frame and wait for the reply that echoes its `request_id` (assigned here when
   * missing). Resolves with the reply frame; rejects with a RoomcastError carrying the
   * server's error code, or "timeout".
   * @param {object} frame a client frame with an `action`
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<any>}
   */
  request(frame, options = {}) {
    return this._request(frame, { timeoutMs: options.timeoutMs });
  }

  /**
   * Fire and forget (no request_id, no reply expected). Dropped silently when not open
   * (or still rejoining after a reconnect): use it only for ephemeral frames such as typing.
   * @param {object} frame
   * @returns {boolean} whether the frame was written
   */
  notify(frame) {
    // Not while rejoining either: the server would refuse it (not_member) before the join.
    if (this._state !== "open" || !this._ws || this._resyncing) return false;
    const text = JSON.stringify(frame);
    if (byteLength(text) > MAX_FRAME_BYTES) {
      throw new RoomcastError("payload_too_large", "frames are limited to 32 KB");
    }
    this._ws.send(text);
    return true;
  }

  /**
   * @param {any} frame
   * @param {{timeoutMs?: number, internal?: boolean, retry?: boolean}} options
   * @returns {Promise<any>}
   */
  _request(frame, options) {
    if (!frame || typeof frame.action !== "string") {
      return Promise.reject(new RoomcastError("invalid_argument", "a frame needs an action"));
    }
    if (this._state === "idle" || this._state === "closed") {
      return Promise.reject(new RoomcastError("not_connected", "call connect() first"));
    }
    this._seq += 1;
    const id = frame.request_id ?? `r${this._seq.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const wire = { ...frame, request_id: id };
    if (byteLength(JSON.stringify(wire)) > MAX_FRAME_BYTES) {
      return Promise.reject(
        new RoomcastError("payload_too_large", "frames are limited to 32 KB", id),
      );
    }
    const timeoutMs =
      options.timeoutMs ?? (frame.action === "send" ? this.sendTimeoutMs : this.requestTimeoutMs);
    return new Promise((resolve, reject) => {
      /** @type {Pending} */
      const entry = {
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
        reject(new RoomcastError("timeout", `no reply to ${frame.action} within ${timeoutMs} ms`, id));
      }, timeoutMs);
      if (this._state === "open" && this._ws && (options.internal || !this._resyncing)) {
        this._write(entry);
      } else {
        this._outbox.push(entry);
      }
    });
  }

  /** @param {Pending} entry */
  _write(entry) {
    const ws = /** @type {WebSocket} */ (this._ws);
    entry.socketGen = this._socketGen;
    this._inflight.set(entry.id, entry);
    ws.send(JSON.stringify(entry.frame));
  }

  /** @param {Pending} entry remove it from every queue and stop its clock */
  _settle(entry) {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    this._inflight.delete(entry.id);
    const at = this._outbox.indexOf(entry);
    if (at >= 0) this._outbox.splice(at, 1);
  }

  _flushOutbox() {
    const queued = this._outbox;
    this._outbox = [];
    for (const entry of queued) {
      if (this._state !== "open" || !this._ws) {
        this._outbox.push(entry);
        continue;
      }
      const roomId = entry.frame.action === "send" ? entry.frame.room_id : null;
      if (roomId && !this._rooms.has(roomId)) {
        this._settle(entry);
        entry.reject(new RoomcastError("room_closed", "the room is no longer joined", entry.id));
        continue;
      }
      this._write(entry);
    }
  }

  /**
   * A socket closed: what was written on it either waits for the next one or fails.
   * @param {number} gen
   */
  _failInflight(gen) {
    for (const entry of [...this._inflight.values()]) {
      if (entry.socketGen !== gen) continue;
      this._inflight.delete(entry.id);
      if (entry.retry) {
        entry.socketGen = 0;
        this._outbox.push(entry);
      } else {
        this._settle(entry);
        entry.reject(new RoomcastError("disconnected", "the connection closed before the reply", entry.id));
      }
    }
    // Keep resends in their original order.
    this._outbox.sort((a, b) => a.seq - b.seq);
  }

  /** @param {RoomcastError} error @param {boolean} includeQueued */
  _failAll(error, includeQueued) {
    const entries = [...this._inflight.values(), ...(includeQueued ? this._outbox : [])];
    for (const entry of entries) {
      this._settle(entry);
      entry.reject(new RoomcastError(error.code, error.message, entry.id));
    }
  }

  /** @param {string} roomId @param {string} code */
  _failRoomSends(roomId, code) {
    for (const entry of [...this._inflight.values(), ...this._outbox]) {
      if (entry.frame.action === "send" && entry.frame.room_id === roomId) {
        this._settle(entry);
        entry.reject(new RoomcastError(code, "the room is no longer available", entry.id));
      }
    }
  }

  // ------------------------------------------------------------------ conveniences

  /**
   * Join a room: resolves with the `joined` frame (presence snapshot + latest history page).
   * The room is rejoined automatically after every reconnect until `leave()` or its closure.
   * @param {string} roomId
   * @param {{historyLimit?: number, timeoutMs?: number}} [options]
   */
  async join(roomId, options = {}) {
    /** @type {any} */
    const frame = { action: "join", room_id: roomId };
    if (options.historyLimit !== undefined) frame.history_limit = options.historyLimit;
    const joined = await this._request(frame, { timeoutMs: options.timeoutMs });
    let room = this._rooms.get(roomId);
    const messages = joined.history?.messages ?? [];
    if (!room) {
      room = {
        roomId,
        historyLimit: options.historyLimit,
        members: new Map(),
        lastId: null,
        emptyAtJoin: messages.length === 0 && options.historyLimit !== 0,
        seen: new Set(),
        buffer: null,
      };
      this._rooms.set(roomId, room);
    }
    for (const message of messages) this._markSeen(room, message.id, true);
    this._endedByRoomClosure = false;
    this._setPresence(room, joined.members);
    return joined;
  }

  /**
   * Leave a room (it is no longer rejoined after reconnects).
   * @param {string} roomId
   */
  async leave(roomId) {
    // Forget it first so a reconnect racing with this call does not rejoin it; if the
    // leave itself fails, the membership still ends with this connection.
    this._rooms.delete(roomId);
    this._typingSent.delete(roomId);
    return this._request({ action: "leave", room_id: roomId }, {});
  }

  /**
   * Send a chat message; resolves with the `ack` frame once it is stored. A send that is
   * not acknowledged before a reconnect is resent afterwards with the same client_msg_id,
   * which the server deduplicates (`ack.duplicate` is then true).
   * @param {string} roomId
   * @param {string} text
   * @param {{clientMsgId?: string, meta?: object, timeoutMs?: number}} [options]
   */
  async send(roomId, text, options = {}) {
    if (typeof text !== "string" || text.length === 0) {
      throw new RoomcastError("invalid_argument", "text must be a non-empty string");
    }
    if (!this._rooms.has(roomId)) {
      throw new RoomcastError("not_member", "join the room first");
    }
    /** @type {any} */
    const frame = {
      action: "send",
      room_id: roomId,
      text,
      client_msg_id: options.clientMsgId ?? newClientMsgId(),
    };
    if (options.meta !== undefined) frame.meta = options.meta;
    const ack = await this._request(frame, { timeoutMs: options.timeoutMs, retry: true });
    const room = this._rooms.get(roomId);
    if (room && ack.message?.id) this._markSeen(room, ack.message.id, false);
    return ack;
  }

  /**
   * One page of older messages (oldest first); pass `next_cursor` back as `before`.
   * @param {string} roomId
   * @param {{before?: string | null, limit?: number, timeoutMs?: number}} [options]
   */
  history(roomId, options = {}) {
    /** @type {any} */
    const frame = { action: "history", room_id: roomId };
    if (options.before) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this._request(frame, { timeoutMs: options.timeoutMs });
  }

  /**
   * Tell the room whether this user is typing. Throttled: repeated `true`s within
   * typingThrottleMs are dropped; a `false` after a `true` is always sent.
   * @param {string} roomId
   * @param {boolean} [isTyping]
   * @returns {boolean} whether a frame was written
   */
  typing(roomId, isTyping = true) {
    const last = this._typingSent.get(roomId);
    const now = Date.now();
    if (isTyping && last?.typing && now - last.sentAt < this.typingThrottleMs) return false;
    if (!isTyping && !last?.typing) return false;
    const written = this.notify({ action: "typing", room_id: roomId, is_typing: isTyping });
    if (written) this._typingSent.set(roomId, { sentAt: now, typing: isTyping });
    return written;
  }

  /**
   * Close a room (room admins only). Every member, this client included, then receives
   * `room.closed`; the server sends the room's record to its webhook.
   * @param {string} roomId
   * @param {{timeoutMs?: number}} [options]
   */
  close(roomId, options = {}) {
    return this._request({ action: "close", room_id: roomId }, { timeoutMs: options.timeoutMs });
  }

  /**
   * The inbox of stored notifications, newest first: marks `markRead` read first, then
   * answers a page (`limit` 0: only the unread count). Pass `next_cursor` back as `before`.
   * @param {{before?: string | null, limit?: number, markRead?: string[], timeoutMs?: number}} [options]
   */
  inbox(options = {}) {
    /** @type {any} */
    const frame = { action: "inbox" };
    if (options.before) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    if (options.markRead?.length) frame.mark_read = options.markRead;
    return this._request(frame, { timeoutMs: options.timeoutMs });
  }

  /** Round trip to the server; resolves with the `pong` frame. */
  ping() {
    return this._request({ action: "ping" }, {});
  }

  // ------------------------------------------------------- moderation (moderators only)
  // Each resolves with the `moderated` frame (the act as recorded) or rejects with the
  // server's code: not_moderator, user_not_found, message_not_found, room_closed...

  /**
   * Kick a user: their connections leave the room and get `kicked` (they may join again).
   * @param {string} roomId @param {string} userId @param {{reason?: string, timeoutMs?: number}} [options]
   */
  kick(roomId, userId, options = {}) {
    return this._moderate("kick", roomId, { user_id: userId }, options);
  }

  /**
   * Ban a user (for durationSeconds, or until unbanned): joins refused, live connections removed.
   * @param {string} roomId @param {string} userId
   * @param {{durationSeconds?: number, reason?: string, timeoutMs?: number}} [options]
   */
  ban(roomId, userId, options = {}) {
    return this._moderate("ban", roomId, { user_id: userId }, options);
  }

  /** @param {string} roomId @param {string} userId @param {{timeoutMs?: number}} [options] */
  unban(roomId, userId, options = {}) {
    return this._moderate("unban", roomId, { user_id: userId }, options);
  }

  /**
   * Mute a user (for durationSeconds, or until unmuted): their sends and typing answer `muted`.
   * @param {string} roomId @param {string} userId
   * @param {{durationSeconds?: number, reason?: string, timeoutMs?: number}} [options]
   */
  mute(roomId, userId, options = {}) {
    return this._moderate("mute", roomId, { user_id: userId }, options);
  }

  /** @param {string} roomId @param {string} userId @param {{timeoutMs?: number}} [options] */
  unmute(roomId, userId, options = {}) {
    return this._moderate("unmute", roomId, { user_id: userId }, options);
  }

  /**
   * Delete a message: a tombstone in history; members get `message.deleted`.
   * @param {string} roomId @param {string} messageId @param {{timeoutMs?: number}} [options]
   */
  deleteMessage(roomId, messageId, options = {}) {
    return this._moderate("delete_message", roomId, { message_id: messageId }, options);
  }

  /** @param {string} action @param {string} roomId @param {object} target @param {any} options */
  _moderate(action, roomId, target, options) {
    /** @type {any} */
    const frame = { action, room_id: roomId, ...target };
    if (options.reason !== undefined) frame.reason = options.reason;
    if (options.durationSeconds !== undefined) frame.duration_seconds = options.durationSeconds;
    return this._request(frame, { timeoutMs: options.timeoutMs });
  }

  // ------------------------------------------------------------------ incoming frames

  /** @param {any} data */
  _handleData(data) {
    if (typeof data !== "string") return; // the protocol is JSON text only
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      this._emit("error", {
        error: new RoomcastError("invalid_frame", "the server sent a frame that is not JSON"),
        frame: null,
      });
      return;
    }
    if (!frame || typeof frame !== "object" || typeof frame.type !== "string") return;
    this._emit("frame", frame);
    const entry = frame.request_id ? this._inflight.get(frame.request_id) : undefined;
    if (entry) {
      this._settle(entry);
      if (frame.type === "error") {
        entry.reject(new RoomcastError(frame.code, frame.message, frame.request_id, frame));
      } else {
        entry.resolve(frame);
      }
    } else if (frame.type === "error") {
      this._emit("error", {
        error: new RoomcastError(frame.code, frame.message, frame.request_id ?? null, frame),
        frame,
      });
    }
    this._dispatch(frame);
  }

  /**
   * Room-state bookkeeping and events for broadcasts (replies are handled by requests).
   * @param {any} frame
   */
  _dispatch(frame) {
    const type = frame.type;
    if (type === "joined") {
      for (const open of frame.streams ?? []) this._seedStream(open);
      if (typeof frame.unread === "number") this._setUnread(frame.unread);
    } else if (type === "inbox") {
      if (typeof frame.unread === "number") this._setUnread(frame.unread);
    } else if (type === "message.delta") {
      this._emit("message.delta", frame);
      this._applyDelta(frame);
    } else if (type === "message") {
      const message = frame.message;
      const room = message ? this._rooms.get(message.room_id) : undefined;
      // Once per message: a range job delivered twice repeats the frame.
      if (message?.streamed && !room?.seen.has(message.id)) this._finishStream(message);
      if (!room) return;
      if (room.buffer) {
        room.buffer.push(frame); // a catch-up is running: emit after it, in order
      } else {
        this._emitMessage(room, message, false, frame);
      }
    } else if (type === "member.joined" || type === "member.left") {
      const room = this._rooms.get(frame.room_id);
      if (room) this._applyMemberEvent(room, frame);
      this._emit(type, frame);
    } else if (type === "typing") {
      this._emit("typing", frame);
    } else if (type === "room.closed") {
      const known = this._rooms.delete(frame.room_id);
      this._typingSent.delete(frame.room_id);
      this._failRoomSends(frame.room_id, "room_closed");
      if (known && this._rooms.size === 0) this._endedByRoomClosure = true;
      this._emit("room.closed", frame);
    } else if (type === "kicked") {
      // Out of the room (kick, ban, or off a members-only list): not rejoined on reconnect.
      this._rooms.delete(frame.room_id);
      this._typingSent.delete(frame.room_id);
      this._failRoomSends(frame.room_id, "not_member");
      this._emit("kicked", frame);
    } else if (type === "muted" || type === "unmuted" || type === "message.deleted") {
      this._emit(type, frame);
    } else if (type === "disconnected") {
      // The server closes this socket next; do not reconnect over a forced logout.
      this._endedByServer = true;
      this._emit("disconnected", frame);
    } else if (type === "notification") {
      const id = frame.notification?.id;
      if (typeof id !== "string" || this._seenNotifications.has(id)) return;
      this._seenNotifications.add(id);
      if (this._seenNotifications.size > SEEN_NOTIFICATIONS) {
        this._seenNotifications.delete(/** @type {string} */ (this._seenNotifications.values().next().value));
      }
      this._emit("notification", frame);
      if (frame.notification?.inbox) this._setUnread((this._unread ?? 0) + 1);
    } else if (SIGNAL_TYPES.has(type) || type.startsWith("call-")) {
      this._emit("signal", frame);
    }
  }

  /** @param {number} unread */
  _setUnread(unread) {
    if (unread === this._unread) return;
    this._unread = unread;
    this._emit("unread", { unread });
  }

  /** A stream open when we joined: its text so far (chunks 0..next_seq-1). @param {any} open */
  _seedStream(open) {
    const known = this._streams.get(open.message_id);
    if (known && known.nextSeq >= open.next_seq) return; // already further along
    const stream = {
      roomId: open.room_id,
      messageId: open.message_id,
      userId: open.user_id,
      name: open.name,
      senderKind: open.sender_kind,
      text: open.text,
      nextSeq: open.next_seq,
      held: known?.held ?? new Map(),
    };
    this._streams.set(open.message_id, stream);
    this._drainStream(stream, open.next_seq > 0);
  }

  /**
   * Chunks in seq order: a repeat is dropped, one after a gap is held until the gap fills.
   * A stream first seen mid-way (no `joined` snapshot) holds its chunks and waits for the
   * final message, which carries the whole text.
   * @param {any} frame
   */
  _applyDelta(frame) {
    let stream = this._streams.get(frame.message_id);
    if (!stream) {
      stream = {
        roomId: frame.room_id,
        messageId: frame.message_id,
        userId: frame.user_id,
        name: frame.name,
        senderKind: frame.sender_kind,
        text: "",
        nextSeq: 0,
        held: new Map(),
      };
      this._streams.set(frame.message_id, stream);
    }
    for (const chunk of frame.chunks ?? []) {
      if (chunk.seq >= stream.nextSeq && !stream.held.has(chunk.seq)) stream.held.set(chunk.seq, chunk.text);
    }
    this._drainStream(stream);
  }

  /** @param {StreamState} stream @param {boolean} [announce] emit even if no chunk was added */
  _drainStream(stream, announce = false) {
    for (const seq of [...stream.held.keys()]) if (seq < stream.nextSeq) stream.held.delete(seq);
    let grew = false;
    while (stream.held.has(stream.nextSeq)) {
      stream.text += stream.held.get(stream.nextSeq);
      stream.held.delete(stream.nextSeq);
      stream.nextSeq += 1;
      grew = true;
    }
    if (grew || announce) this._emitStream(stream, stream.text, false);
  }

  /** The final message of a stream replaces what was assembled. @param {any} message */
  _finishStream(message) {
    const stream = this._streams.get(message.id);
    this._streams.delete(message.id);
    this._emitStream(
      stream ?? {
        roomId: message.room_id,
        messageId: message.id,
        userId: message.user_id,
        name: message.name,
        senderKind: message.sender_kind,
      },
      message.text,
      true,
    );
  }

  /** @param {any} stream @param {string} text @param {boolean} done */
  _emitStream(stream, text, done) {
    this._emit("stream", {
      type: "stream",
      room_id: stream.roomId,
      message_id: stream.messageId,
      user_id: stream.userId,
      name: stream.name,
      sender_kind: stream.senderKind,
      text,
      done,
    });
  }

  /** @param {RoomState} room @param {any} message @param {boolean} catchUp @param {any} [frame] */
  _emitMessage(room, message, catchUp, frame) {
    if (room.seen.has(message.id)) return;
    this._markSeen(room, message.id, true);
    const detail = frame ?? { type: "message", message };
    this._emit("message", catchUp ? { ...detail, catch_up: true } : detail);
  }

  /**
   * @param {RoomState} room
   * @param {string} id
   * @param {boolean} received a message from the room (moves lastId); acks only mark seen
   */
  _markSeen(room, id, received) {
    room.seen.add(id);
    if (room.seen.size > SEEN_IDS_PER_ROOM) {
      room.seen.delete(/** @type {string} */ (room.seen.values().next().value));
    }
    // Own acks do not move lastId: a message from someone else stored just before ours
    // but not yet delivered when the socket dropped must still be caught up.
    if (received && (room.lastId === null || compareIds(id, room.lastId) > 0)) room.lastId = id;
  }

  /** @param {RoomState} room @param {any[]} members */
  _setPresence(room, members) {
    room.members = new Map((members || []).map((m) => [m.user_id, { ...m }]));
    this._emitPresence(room);
  }

  /** @param {RoomState} room @param {any} frame */
  _applyMemberEvent(room, frame) {
    const existing = room.members.get(frame.user_id);
    if (frame.type === "member.joined") {
      const connections = frame.connection_count ?? (existing ? existing.connections + 1 : 1);
      room.members.set(frame.user_id, {
        user_id: frame.user_id,
        name: frame.name,
        connections,
        joined_at: existing?.joined_at ?? frame.at,
      });
    } else {
      // connection_count is what the user still holds in the room after this leave.
      const remaining = frame.connection_count ?? (existing ? existing.connections - 1 : 0);
      if (remaining > 0 && existing) {
        existing.connections = remaining;
      } else {
        room.members.delete(frame.user_id);
      }
    }
    this._emitPresence(room);
  }

  /** @param {RoomState} room */
  _emitPresence(room) {
    this._emit("presence", { type: "presence", room_id: room.roomId, members: this.members(room.roomId) });
  }

  /** @param {string} type @param {any} detail */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** @param {WebSocket} ws stop listening to a socket we are abandoning */
function detach(ws) {
  ws.onopen = null;
  ws.onclose = null;
  ws.onerror = null;
  ws.onmessage = null;
}

/**
 * Message ids are fixed-width, time-ordered hex: string order is time order.
 * @param {string} a @param {string} b
 */
function compareIds(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** @param {string} text */
function byteLength(text) {
  return new TextEncoder().encode(text).length;
}

/** A fresh client_msg_id (randomUUID needs a secure context; fall back elsewhere). */
export function newClientMsgId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
