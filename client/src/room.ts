// Room: one room of a RoomcastClient (client.room(id)), with its own state machine, events
// and methods. States (docs/protocol.md, "Membership and moderation"):
//
//   left --join()--> joining --joined--> joined --leave()--> left
//   joined --the socket drops--> joining --rejoined, caught up--> joined
//   joined --kicked (cause kick or removed)--> kicked      joined --kicked (cause ban)--> banned
//   joined --room.closed--> closed
//   joining --refused: banned--> banned | members_only--> kicked | room_not_found, room_closed--> closed
//   any --the client stops (disconnect(), disconnected, unauthorized)--> left
//
// kicked, banned and closed are where a room ends without a retry: it is not rejoined
// after a reconnect; join() may be called again (a kick allows it, an unban too).

import type { Call, CallMedia } from "./calls.js";
import { Emitter } from "./emitter.js";
import { RoomcastError } from "./errors.js";
import { MAX_HISTORY_LIMIT, newClientMsgId, type RequestOptions, type RoomcastClient } from "./client.js";
import type {
  AckFrame,
  HistoryFrame,
  JoinedFrame,
  KickedFrame,
  LeftFrame,
  Member,
  MemberEventFrame,
  Message,
  MessageDeletedFrame,
  MessageDeltaFrame,
  ModeratedFrame,
  MutedFrame,
  OpenStream,
  RoomClosedFrame,
} from "./wire.js";

export type RoomState = "left" | "joining" | "joined" | "kicked" | "banned" | "closed";

/** Why a room is in its state (null while joining or joined by choice). */
export interface RoomReason {
  /** kick, ban, removed, banned, members_only, room_closed, room_not_found, forbidden, left,
   * disconnected, unauthorized, or another refusal code. */
  code: string;
  /** Who did it (a user id; "admin-api" for the admin API). */
  by?: string;
  /** The moderator's reason, or the server's message. */
  message?: string;
  /** A ban's end (RFC 3339); absent: for good. */
  until?: string;
  at?: string;
}

export interface RoomStateDetail {
  state: RoomState;
  previous: RoomState;
  reason: RoomReason | null;
}

/** A kicked the client builds when a rejoin is refused banned or members_only. */
export interface SyntheticKicked {
  type: "kicked";
  room_id: string;
  cause: "ban" | "removed";
  synthetic: true;
  reason?: string;
  until?: string;
}

/** A room.closed the client builds when a rejoin finds the room closed or gone. */
export interface SyntheticClosed {
  type: "room.closed";
  room_id: string;
  synthetic: true;
  /** room_closed or room_not_found. */
  reason: string;
}

/** A mute learned from a refused send, or a mute that ran out. */
export interface SyntheticMuted {
  type: "muted" | "unmuted";
  room_id: string;
  synthetic: true;
  until?: string;
  reason?: string;
}

export interface MuteInfo {
  by?: string;
  reason?: string;
  until?: string;
  at?: string;
}

export interface Typer {
  user_id: string;
  name: string;
}

/** A streamed message's text so far, assembled in seq order; `done` once with the whole text. */
export interface StreamUpdate {
  room_id: string;
  message_id: string;
  user_id: string;
  name: string;
  sender_kind: "system" | "bot";
  text: string;
  done: boolean;
}

export interface RoomEventMap {
  state: RoomStateDetail;
  /** Every successful join and rejoin: presence snapshot + latest history page. */
  joined: JoinedFrame;
  /** A message from another member; after a reconnect, missed ones too (catchUp), oldest first, each id once. */
  message: { message: Message; catchUp: boolean };
  /** A streamed message grew (its chunks in seq order), or finished (done). */
  delta: StreamUpdate;
  /** A moderator deleted a message (history now holds its tombstone). */
  deleted: MessageDeletedFrame;
  /** The member list after any change; `change` is the live member event (null: a snapshot). */
  presence: { members: Member[]; change: MemberEventFrame | null };
  /** Someone started or stopped typing; `typers` is everyone typing now. */
  typing: { user_id: string; name: string; is_typing: boolean; typers: Typer[] };
  muted: MutedFrame | SyntheticMuted;
  unmuted: MutedFrame | SyntheticMuted;
  /** Put out of the room: kick, ban or removal (state kicked or banned). */
  kicked: KickedFrame | SyntheticKicked;
  /** The room was closed (or found gone on a rejoin). */
  closed: RoomClosedFrame | SyntheticClosed;
  /** Missed messages could not all be fetched after a reconnect. */
  gap: { reason: string };
}

interface StreamState {
  messageId: string;
  userId: string;
  name: string;
  senderKind: "system" | "bot";
  text: string;
  nextSeq: number;
  held: Map<number, string>;
}

type Frame = Record<string, unknown> & { action: string };

// Ids of messages already emitted, to drop duplicates (live vs. catch-up overlap).
const SEEN_IDS = 2_000;
// Names learned from frames, for nameOf(): bounded so a long-lived room does not grow it forever.
const KNOWN_NAMES = 5_000;
// setTimeout's largest delay; a mute that ends later is cleared by its `unmuted` frame.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Room extends Emitter<RoomEventMap> {
  readonly id: string;
  readonly client: RoomcastClient;

  private _state: RoomState = "left";
  private _reason: RoomReason | null = null;
  private _name: string | null = null;
  private _members = new Map<string, Member>();
  private _names = new Map<string, string>();
  private _lastId: string | null = null;
  private _emptyAtJoin = false;
  private _seen = new Set<string>();
  private _buffer: { message: Message }[] | null = null;
  private _rejoinWanted = false;
  private _olderCursor: string | null = null;
  private _muted: MuteInfo | null = null;
  private _muteTimer: ReturnType<typeof setTimeout> | null = null;
  private _typers = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
  private _typingSent: { at: number; typing: boolean } | null = null;
  private _streams = new Map<string, StreamState>();

  /** Use client.room(id): it hands out one Room per id. */
  constructor(client: RoomcastClient, id: string) {
    super();
    this.client = client;
    this.id = id;
  }

  get state(): RoomState {
    return this._state;
  }

  /** Why the room is in its state: set for kicked, banned, closed and a left not asked for. */
  get reason(): RoomReason | null {
    return this._reason;
  }

  /** The refusal code a send meets in this state (for errors), or null while it may send. */
  get refusal(): string | null {
    if (this._state === "joined" || this._state === "joining") return null;
    if (this._state === "closed") return "room_closed";
    if (this._state === "banned") return "banned";
    return "not_member";
  }

  /** The room's display name, once joined. */
  get name(): string | null {
    return this._name;
  }

  /** The member list: one entry per user. */
  get members(): Member[] {
    return [...this._members.values()].map((m) => ({ ...m }));
  }

  member(userId: string): Member | undefined {
    const found = this._members.get(userId);
    return found ? { ...found } : undefined;
  }

  /** The display name of a user seen in this room (members, messages, typing), or null. */
  nameOf(userId: string): string | null {
    return this._members.get(userId)?.name ?? this._names.get(userId) ?? null;
  }

  /** Newest message id received (the catch-up after a reconnect starts after it). */
  get lastMessageId(): string | null {
    return this._lastId;
  }

  /** Set while this user is muted here (from a `muted` frame or a send refused `muted`). */
  get muted(): MuteInfo | null {
    return this._muted ? { ...this._muted } : null;
  }

  /** Everyone typing now (a typer expires after typingTimeoutMs without a repeat). */
  get typers(): Typer[] {
    return [...this._typers].map(([user_id, t]) => ({ user_id, name: t.name }));
  }

  /** The cursor of the oldest page loaded (null: the start of the room is loaded). */
  get olderCursor(): string | null {
    return this._olderCursor;
  }

  /** The text so far of a streamed message being received, or null. */
  streamText(messageId: string): string | null {
    return this._streams.get(messageId)?.text ?? null;
  }

  // ------------------------------------------------------------------ methods

  /**
   * Join: resolves with the `joined` frame (presence snapshot + latest history page). The
   * room is rejoined after every reconnect until leave(), a kick, a ban or its closure.
   * A refusal rejects with the server's code; banned, members_only, room_not_found and
   * room_closed also put the room in that state (banned, kicked, closed).
   */
  async join(options: { historyLimit?: number; timeoutMs?: number } = {}): Promise<JoinedFrame> {
    const frame: Frame = { action: "join", room_id: this.id };
    if (options.historyLimit !== undefined) frame.history_limit = options.historyLimit;
    const previous = this._state;
    const fresh = previous !== "joined";
    this._setState("joining", null);
    let joined: JoinedFrame;
    try {
      joined = await this.client._request<JoinedFrame>(frame, { timeoutMs: options.timeoutMs });
    } catch (error) {
      if (!this._refused(error)) this._setState(previous === "joining" ? "left" : previous, this._reason);
      throw error;
    }
    const messages = joined.history?.messages ?? [];
    if (fresh) {
      this._emptyAtJoin = messages.length === 0 && options.historyLimit !== 0;
      this._olderCursor = joined.history?.next_cursor ?? null;
    }
    for (const message of messages) this._markSeen(message.id, true);
    this._applyJoined(joined);
    return joined;
  }

  /** Leave (the room is no longer rejoined after reconnects). Resolves with `left`. */
  async leave(options: RequestOptions = {}): Promise<LeftFrame | null> {
    const wasMember = this._state === "joined" || this._state === "joining";
    // Forget it first so a reconnect racing with this call does not rejoin it; if the
    // leave itself fails, the membership still ends with this connection.
    this._rejoinWanted = false;
    this._setState("left", null);
    this._clearLive();
    this.client._failRoomSends(this.id, "not_member");
    if (!wasMember || this.client.state === "closed" || this.client.state === "idle") return null;
    return this.client._request<LeftFrame>({ action: "leave", room_id: this.id }, options);
  }

  /**
   * Send a chat message; resolves with the `ack` once it is stored. A send not acknowledged
   * before a reconnect is resent afterwards with the same client_msg_id, which the server
   * stores once (`ack.duplicate` is then true). Sends made while rejoining wait for it.
   */
  async send(
    text: string,
    options: { clientMsgId?: string; meta?: Record<string, unknown>; timeoutMs?: number } = {},
  ): Promise<AckFrame> {
    if (typeof text !== "string" || text.length === 0) {
      throw new RoomcastError("invalid_argument", "text must be a non-empty string");
    }
    const refusal = this.refusal;
    if (refusal) throw new RoomcastError(refusal, this._state === "left" ? "join the room first" : `the room is ${this._state}`);
    const frame: Frame = { action: "send", room_id: this.id, text, client_msg_id: options.clientMsgId ?? newClientMsgId() };
    if (options.meta !== undefined) frame.meta = options.meta;
    let ack: AckFrame;
    try {
      ack = await this.client._request<AckFrame>(frame, { timeoutMs: options.timeoutMs, retry: true });
    } catch (error) {
      if (error instanceof RoomcastError && error.code === "muted") this._learnMute(error);
      throw error;
    }
    if (ack.message?.id) this._markSeen(ack.message.id, false);
    return ack;
  }

  /** One page of older messages (oldest first); pass `next_cursor` back as `before`. */
  history(options: { before?: string | null; limit?: number; timeoutMs?: number } = {}): Promise<HistoryFrame> {
    const frame: Frame = { action: "history", room_id: this.id };
    if (options.before) frame.before = options.before;
    if (options.limit !== undefined) frame.limit = options.limit;
    return this.client._request<HistoryFrame>(frame, { timeoutMs: options.timeoutMs });
  }

  /**
   * The page before the oldest one loaded (from the join's page on): oldest first, and
   * olderCursor moves back (null at the start of the room). Resolves [] at the start.
   */
  async loadOlder(options: { limit?: number; timeoutMs?: number } = {}): Promise<Message[]> {
    if (this._olderCursor === null) return [];
    const page = await this.history({ before: this._olderCursor, limit: options.limit, timeoutMs: options.timeoutMs });
    this._olderCursor = page.next_cursor ?? null;
    for (const message of page.messages) this._remember(message.user_id, message.name);
    return page.messages;
  }

  /**
   * Tell the room whether this user is typing. Throttled: repeated `true`s within
   * typingThrottleMs are dropped; a `false` after a `true` is always sent. Returns whether
   * a frame was written (never while muted or not joined).
   */
  typing(isTyping = true): boolean {
    if (this._state !== "joined" || this._muted) return false;
    const last = this._typingSent;
    const now = Date.now();
    if (isTyping && last?.typing && now - last.at < this.client.typingThrottleMs) return false;
    if (!isTyping && !last?.typing) return false;
    const written = this.client.notify({ action: "typing", room_id: this.id, is_typing: isTyping });
    if (written) this._typingSent = { at: now, typing: isTyping };
    return written;
  }

  /** Close the room for everyone (room admins only); resolves with `room.closed`. */
  close(options: RequestOptions = {}): Promise<RoomClosedFrame> {
    return this.client._request<RoomClosedFrame>({ action: "close", room_id: this.id }, options);
  }

  // Moderation (the room's moderators and admins, admin tokens): each resolves with the
  // `moderated` frame (the act as recorded) or rejects with not_moderator, user_not_found...

  /** Their connections leave the room and get `kicked`; they may join again. */
  kick(userId: string, options: { reason?: string; timeoutMs?: number } = {}): Promise<ModeratedFrame> {
    return this._moderate("kick", { user_id: userId }, options);
  }

  /** Joins refused (for durationSeconds, or until unbanned); live connections removed. */
  ban(userId: string, options: { durationSeconds?: number; reason?: string; timeoutMs?: number } = {}): Promise<ModeratedFrame> {
    return this._moderate("ban", { user_id: userId }, options);
  }

  unban(userId: string, options: RequestOptions = {}): Promise<ModeratedFrame> {
    return this._moderate("unban", { user_id: userId }, options);
  }

  /** Their sends and typing answer `muted` (for durationSeconds, or until unmuted). */
  mute(userId: string, options: { durationSeconds?: number; reason?: string; timeoutMs?: number } = {}): Promise<ModeratedFrame> {
    return this._moderate("mute", { user_id: userId }, options);
  }

  unmute(userId: string, options: RequestOptions = {}): Promise<ModeratedFrame> {
    return this._moderate("unmute", { user_id: userId }, options);
  }

  /** A tombstone in history; members get `message.deleted` (the `deleted` event). */
  deleteMessage(messageId: string, options: RequestOptions = {}): Promise<ModeratedFrame> {
    return this._moderate("delete_message", { message_id: messageId }, options);
  }

  /** Call a member of this room (1:1 WebRTC through client.calls; browsers only). */
  call(userId: string, options: { media?: CallMedia; callId?: string } = {}): Promise<Call> {
    return this.client.calls.invite(this.id, userId, { ...options, peerName: this.nameOf(userId) ?? undefined });
  }

  private _moderate(
    action: string,
    target: Record<string, string>,
    options: { reason?: string; durationSeconds?: number; timeoutMs?: number },
  ): Promise<ModeratedFrame> {
    const frame: Frame = { action, room_id: this.id, ...target };
    if (options.reason !== undefined) frame.reason = options.reason;
    if (options.durationSeconds !== undefined) frame.duration_seconds = options.durationSeconds;
    return this.client._request<ModeratedFrame>(frame, { timeoutMs: options.timeoutMs });
  }

  // ------------------------------------------------------------------ state

  private _setState(state: RoomState, reason: RoomReason | null): void {
    const previous = this._state;
    this._state = state;
    this._reason = reason;
    if (previous !== state) this.emit("state", { state, previous, reason });
  }

  /** A join (or rejoin) refused: the codes that say where the room stands end there. Returns whether it did. */
  private _refused(error: unknown): boolean {
    if (!(error instanceof RoomcastError)) return false;
    const code = error.code;
    const reason: RoomReason = { code, message: error.message };
    if (error.frame?.until) reason.until = error.frame.until;
    if (code === "banned" || code === "members_only") {
      this._putOut(code === "banned" ? "banned" : "kicked", reason, code);
      const detail: SyntheticKicked = { type: "kicked", room_id: this.id, cause: code === "banned" ? "ban" : "removed", synthetic: true, reason: error.message };
      if (reason.until) detail.until = reason.until;
      this.emit("kicked", detail);
      return true;
    }
    if (code === "room_closed" || code === "room_not_found") {
      this._putOut("closed", reason, "room_closed");
      this.client._roomClosed();
      this.emit("closed", { type: "room.closed", room_id: this.id, synthetic: true, reason: code });
      return true;
    }
    if (code === "forbidden") {
      this._putOut("left", reason, code);
      return true;
    }
    return false;
  }

  /** Out of the room (kick, ban, closure, refusal): no rejoin, sends fail, live state cleared. */
  private _putOut(state: RoomState, reason: RoomReason, sendCode: string): void {
    this._rejoinWanted = false;
    this._buffer = null;
    this._setState(state, reason);
    this._clearLive();
    this._members.clear();
    this.client._failRoomSends(this.id, sendCode);
  }

  private _applyJoined(joined: JoinedFrame): void {
    this._name = joined.room?.name ?? this._name;
    this._rejoinWanted = true;
    this.client._roomJoined();
    for (const open of joined.streams ?? []) this._seedStream(open);
    this._members = new Map((joined.members ?? []).map((m) => [m.user_id, { ...m }]));
    for (const m of joined.members ?? []) this._remember(m.user_id, m.name);
    for (const m of joined.history?.messages ?? []) this._remember(m.user_id, m.name);
    this._setState("joined", null);
    this.emit("joined", joined);
    this.emit("presence", { members: this.members, change: null });
  }

  private _clearLive(): void {
    for (const typer of this._typers.values()) clearTimeout(typer.timer);
    this._typers.clear();
    this._typingSent = null;
    this._setMuted(null);
  }

  /** @internal */
  _wantsRejoin(): boolean {
    return this._rejoinWanted;
  }

  /** @internal The socket dropped; the client will reconnect and rejoin. */
  _connectionLost(): void {
    if (this._state === "joined") this._setState("joining", null);
    for (const typer of this._typers.values()) clearTimeout(typer.timer);
    this._typers.clear();
    this._typingSent = null;
  }

  /** @internal The client stopped for good (disconnect(), disconnected, unauthorized, ...). */
  _connectionEnded(cause: string): void {
    const member = this._state === "joined" || this._state === "joining";
    this._rejoinWanted = false;
    this._buffer = null;
    this._clearLive();
    if (member) {
      this._members.clear();
      this._setState("left", cause === "left" ? null : { code: cause });
    }
  }

  /** @internal After a reconnect: rejoin, catch up on history, then emit what was held. */
  async _rejoin(): Promise<void> {
    this._buffer = [];
    let joined: JoinedFrame;
    try {
      joined = await this.client._request<JoinedFrame>(
        { action: "join", room_id: this.id, history_limit: MAX_HISTORY_LIMIT },
        { internal: true },
      );
    } catch (error) {
      this._buffer = null;
      const code = error instanceof RoomcastError ? error.code : "internal_error";
      if (this._refused(error)) return;
      if (code === "timeout") {
        this.client._rejoinTimedOut();
      } else if (code !== "disconnected") {
        // Refused for another reason (rate_limited, too_many_rooms...): not rejoined.
        this._putOut("left", { code, message: error instanceof Error ? error.message : String(error) }, code);
      }
      return;
    }
    for (const m of joined.history?.messages ?? []) this._remember(m.user_id, m.name);
    try {
      const missed = await this._catchUp(joined.history);
      this._applyJoined(joined);
      for (const message of missed) this._emitMessage(message, true);
    } catch (error) {
      this._applyJoined(joined);
      if (!(error instanceof RoomcastError && error.code === "disconnected")) {
        this.emit("gap", { reason: error instanceof Error ? error.message : String(error) });
      }
    } finally {
      const buffered = this._buffer ?? [];
      this._buffer = null;
      buffered.sort((a, b) => compareIds(a.message.id, b.message.id));
      for (const frame of buffered) this._emitMessage(frame.message, false);
    }
  }

  /** Messages newer than the last one seen, oldest first, paging back with `before`. */
  private async _catchUp(firstPage: { messages: Message[]; next_cursor?: string }): Promise<Message[]> {
    if (this._lastId === null && !this._emptyAtJoin) {
      // We never learned where this room's history stood (joined with history_limit 0):
      // there is no safe lower bound, so nothing is replayed.
      return [];
    }
    const floor = this._lastId; // null: the room was empty at join, everything is new
    const collected: Message[] = [];
    let page = firstPage;
    for (;;) {
      const messages = page.messages || [];
      collected.push(...messages);
      const reachedFloor = floor !== null && messages.some((m) => compareIds(m.id, floor) <= 0);
      if (reachedFloor || !page.next_cursor) break;
      if (collected.length >= this.client.catchUpMaxMessages) {
        this.emit("gap", { reason: "too many missed messages" });
        break;
      }
      page = await this.client._request<HistoryFrame>(
        { action: "history", room_id: this.id, before: page.next_cursor, limit: MAX_HISTORY_LIMIT },
        { internal: true },
      );
    }
    const fresh = collected.filter((m) => (floor === null || compareIds(m.id, floor) > 0) && !this._seen.has(m.id));
    fresh.sort((a, b) => compareIds(a.id, b.id));
    // Pages overlap only at their edges, but dedupe anyway.
    return fresh.filter((m, i) => i === 0 || fresh[i - 1].id !== m.id);
  }

  // ------------------------------------------------------------------ frames

  /** @internal A frame about this room, from the client's dispatch. */
  _handleFrame(frame: any): void {
    switch (frame.type) {
      case "message": {
        const message: Message = frame.message;
        // Once per message: a range job delivered twice repeats the frame.
        if (message.streamed && !this._seen.has(message.id)) this._finishStream(message);
        if (this._state !== "joined" && this._state !== "joining") return;
        this._clearTyper(message.user_id);
        if (this._buffer) this._buffer.push({ message }); // a catch-up is running: emit after it, in order
        else this._emitMessage(message, false);
        return;
      }
      case "message.delta":
        this._applyDelta(frame as MessageDeltaFrame);
        return;
      case "member.joined":
      case "member.left":
        this._applyMemberEvent(frame as MemberEventFrame);
        return;
      case "typing":
        this._onTyping(frame);
        return;
      case "room.closed": {
        const closed = frame as RoomClosedFrame;
        const reason: RoomReason = { code: "room_closed", at: closed.at };
        if (closed.closed_by) reason.by = closed.closed_by;
        this._putOut("closed", reason, "room_closed");
        this.client._roomClosed();
        this.emit("closed", closed);
        return;
      }
      case "kicked": {
        const kicked = frame as KickedFrame;
        const reason: RoomReason = { code: kicked.cause, by: kicked.by, at: kicked.at };
        if (kicked.reason) reason.message = kicked.reason;
        if (kicked.until) reason.until = kicked.until;
        this._putOut(kicked.cause === "ban" ? "banned" : "kicked", reason, kicked.cause === "ban" ? "banned" : "not_member");
        this.emit("kicked", kicked);
        return;
      }
      case "muted": {
        const muted = frame as MutedFrame;
        this._setMuted({ by: muted.by, reason: muted.reason, until: muted.until, at: muted.at });
        this.emit("muted", muted);
        return;
      }
      case "unmuted":
        this._setMuted(null);
        this.emit("unmuted", frame as MutedFrame);
        return;
      case "message.deleted":
        this.emit("deleted", frame as MessageDeletedFrame);
        return;
      default:
        return;
    }
  }

  private _learnMute(error: RoomcastError): void {
    if (this._muted) return;
    const info: MuteInfo = {};
    if (error.frame?.until) info.until = error.frame.until;
    this._setMuted(info);
    const detail: SyntheticMuted = { type: "muted", room_id: this.id, synthetic: true };
    if (info.until) detail.until = info.until;
    this.emit("muted", detail);
  }

  private _setMuted(info: MuteInfo | null): void {
    if (this._muteTimer !== null) clearTimeout(this._muteTimer);
    this._muteTimer = null;
    this._muted = info;
    const ends = info?.until ? Date.parse(info.until) - Date.now() : NaN;
    if (info && Number.isFinite(ends) && ends < MAX_TIMER_MS) {
      // A mute for a while ends by itself: no frame says so.
      this._muteTimer = setTimeout(() => {
        this._muteTimer = null;
        this._muted = null;
        this.emit("unmuted", { type: "unmuted", room_id: this.id, synthetic: true });
      }, Math.max(0, ends));
    }
  }

  private _emitMessage(message: Message, catchUp: boolean): void {
    if (this._seen.has(message.id)) return;
    this._markSeen(message.id, true);
    this._remember(message.user_id, message.name);
    this.emit("message", { message, catchUp });
  }

  /** received: a message from the room (moves lastId); acks only mark seen. */
  private _markSeen(id: string, received: boolean): void {
    this._seen.add(id);
    if (this._seen.size > SEEN_IDS) this._seen.delete(this._seen.values().next().value as string);
    // Own acks do not move lastId: a message from someone else stored just before ours
    // but not yet delivered when the socket dropped must still be caught up.
    if (received && (this._lastId === null || compareIds(id, this._lastId) > 0)) this._lastId = id;
  }

  private _remember(userId: string, name: string | undefined): void {
    if (!userId || !name) return;
    this._names.delete(userId);
    this._names.set(userId, name);
    if (this._names.size > KNOWN_NAMES) this._names.delete(this._names.keys().next().value as string);
  }

  private _applyMemberEvent(frame: MemberEventFrame): void {
    this._remember(frame.user_id, frame.name);
    if (this._state !== "joined" && this._state !== "joining") return;
    const existing = this._members.get(frame.user_id);
    if (frame.type === "member.joined") {
      const connections = frame.connection_count ?? (existing ? existing.connections + 1 : 1);
      this._members.set(frame.user_id, {
        user_id: frame.user_id,
        name: frame.name,
        connections,
        joined_at: existing?.joined_at ?? frame.at,
      });
    } else {
      // connection_count is what the user still holds in the room after this leave.
      const remaining = frame.connection_count ?? (existing ? existing.connections - 1 : 0);
      if (remaining > 0 && existing) existing.connections = remaining;
      else this._members.delete(frame.user_id);
      if (remaining <= 0) this._clearTyper(frame.user_id);
    }
    this.emit("presence", { members: this.members, change: frame });
  }

  private _onTyping(frame: { user_id: string; name: string; is_typing: boolean }): void {
    this._remember(frame.user_id, frame.name);
    if (this._state !== "joined") return;
    const known = this._typers.get(frame.user_id);
    if (known) clearTimeout(known.timer);
    if (frame.is_typing) {
      // The sender repeats "typing" while typing; silence means it stopped.
      const timer = setTimeout(() => this._clearTyper(frame.user_id), this.client.typingTimeoutMs);
      this._typers.set(frame.user_id, { name: frame.name, timer });
    } else {
      this._typers.delete(frame.user_id);
    }
    this.emit("typing", { user_id: frame.user_id, name: frame.name, is_typing: frame.is_typing, typers: this.typers });
  }

  private _clearTyper(userId: string): void {
    const typer = this._typers.get(userId);
    if (!typer) return;
    clearTimeout(typer.timer);
    this._typers.delete(userId);
    this.emit("typing", { user_id: userId, name: typer.name, is_typing: false, typers: this.typers });
  }

  // ------------------------------------------------------------------ streams

  /** A stream open when we joined: its text so far (chunks 0..next_seq-1). */
  private _seedStream(open: OpenStream): void {
    const known = this._streams.get(open.message_id);
    if (known && known.nextSeq >= open.next_seq) return; // already further along
    const stream: StreamState = {
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
   */
  private _applyDelta(frame: MessageDeltaFrame): void {
    let stream = this._streams.get(frame.message_id);
    if (!stream) {
      stream = {
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

  private _drainStream(stream: StreamState, announce = false): void {
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

  /** The final message of a stream replaces what was assembled. */
  private _finishStream(message: Message): void {
    const stream = this._streams.get(message.id);
    this._streams.delete(message.id);
    this._emitStream(
      stream ?? {
        messageId: message.id,
        userId: message.user_id,
        name: message.name,
        senderKind: message.sender_kind ?? "bot",
        text: "",
        nextSeq: 0,
        held: new Map(),
      },
      message.text,
      true,
    );
  }

  private _emitStream(stream: StreamState, text: string, done: boolean): void {
    this.emit("delta", {
      room_id: this.id,
      message_id: stream.messageId,
      user_id: stream.userId,
      name: stream.name,
      sender_kind: stream.senderKind,
      text,
      done,
    });
  }
}

/** Message ids are fixed-width, time-ordered hex: string order is time order. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
