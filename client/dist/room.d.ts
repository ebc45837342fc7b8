import type { Call, CallMedia } from "./calls.js";
import { Emitter } from "./emitter.js";
import { type RequestOptions, type RoomcastClient } from "./client.js";
import type { AckFrame, HistoryFrame, JoinedFrame, KickedFrame, LeftFrame, Member, MemberEventFrame, Message, MessageDeletedFrame, ModeratedFrame, MutedFrame, RoomClosedFrame } from "./wire.js";
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
    message: {
        message: Message;
        catchUp: boolean;
    };
    /** A streamed message grew (its chunks in seq order), or finished (done). */
    delta: StreamUpdate;
    /** A moderator deleted a message (history now holds its tombstone). */
    deleted: MessageDeletedFrame;
    /** The member list after any change; `change` is the live member event (null: a snapshot). */
    presence: {
        members: Member[];
        change: MemberEventFrame | null;
    };
    /** Someone started or stopped typing; `typers` is everyone typing now. */
    typing: {
        user_id: string;
        name: string;
        is_typing: boolean;
        typers: Typer[];
    };
    muted: MutedFrame | SyntheticMuted;
    unmuted: MutedFrame | SyntheticMuted;
    /** Put out of the room: kick, ban or removal (state kicked or banned). */
    kicked: KickedFrame | SyntheticKicked;
    /** The room was closed (or found gone on a rejoin). */
    closed: RoomClosedFrame | SyntheticClosed;
    /** Missed messages could not all be fetched after a reconnect. */
    gap: {
        reason: string;
    };
}
export declare class Room extends Emitter<RoomEventMap> {
    readonly id: string;
    readonly client: RoomcastClient;
    private _state;
    private _reason;
    private _name;
    private _members;
    private _names;
    private _lastId;
    private _emptyAtJoin;
    private _seen;
    private _buffer;
    private _rejoinWanted;
    private _olderCursor;
    private _muted;
    private _muteTimer;
    private _typers;
    private _typingSent;
    private _streams;
    /** Use client.room(id): it hands out one Room per id. */
    constructor(client: RoomcastClient, id: string);
    get state(): RoomState;
    /** Why the room is in its state: set for kicked, banned, closed and a left not asked for. */
    get reason(): RoomReason | null;
    /** The refusal code a send meets in this state (for errors), or null while it may send. */
    get refusal(): string | null;
    /** The room's display name, once joined. */
    get name(): string | null;
    /** The member list: one entry per user. */
    get members(): Member[];
    member(userId: string): Member | undefined;
    /** The display name of a user seen in this room (members, messages, typing), or null. */
    nameOf(userId: string): string | null;
    /** Newest message id received (the catch-up after a reconnect starts after it). */
    get lastMessageId(): string | null;
    /** Set while this user is muted here (from a `muted` frame or a send refused `muted`). */
    get muted(): MuteInfo | null;
    /** Everyone typing now (a typer expires after typingTimeoutMs without a repeat). */
    get typers(): Typer[];
    /** The cursor of the oldest page loaded (null: the start of the room is loaded). */
    get olderCursor(): string | null;
    /** The text so far of a streamed message being received, or null. */
    streamText(messageId: string): string | null;
    /**
     * Join: resolves with the `joined` frame (presence snapshot + latest history page). The
     * room is rejoined after every reconnect until leave(), a kick, a ban or its closure.
     * A refusal rejects with the server's code; banned, members_only, room_not_found and
     * room_closed also put the room in that state (banned, kicked, closed).
     */
    join(options?: {
        historyLimit?: number;
        timeoutMs?: number;
    }): Promise<JoinedFrame>;
    /** Leave (the room is no longer rejoined after reconnects). Resolves with `left`. */
    leave(options?: RequestOptions): Promise<LeftFrame | null>;
    /**
     * Send a chat message; resolves with the `ack` once it is stored. A send not acknowledged
     * before a reconnect is resent afterwards with the same client_msg_id, which the server
     * stores once (`ack.duplicate` is then true). Sends made while rejoining wait for it.
     */
    send(text: string, options?: {
        clientMsgId?: string;
        meta?: Record<string, unknown>;
        timeoutMs?: number;
    }): Promise<AckFrame>;
    /** One page of older messages (oldest first); pass `next_cursor` back as `before`. */
    history(options?: {
        before?: string | null;
        limit?: number;
        timeoutMs?: number;
    }): Promise<HistoryFrame>;
    /**
     * The page before the oldest one loaded (from the join's page on): oldest first, and
     * olderCursor moves back (null at the start of the room). Resolves [] at the start.
     */
    loadOlder(options?: {
        limit?: number;
        timeoutMs?: number;
    }): Promise<Message[]>;
    /**
     * Tell the room whether this user is typing. Throttled: repeated `true`s within
     * typingThrottleMs are dropped; a `false` after a `true` is always sent. Returns whether
     * a frame was written (never while muted or not joined).
     */
    typing(isTyping?: boolean): boolean;
    /** Close the room for everyone (room admins only); resolves with `room.closed`. */
    close(options?: RequestOptions): Promise<RoomClosedFrame>;
    /** Their connections leave the room and get `kicked`; they may join again. */
    kick(userId: string, options?: {
        reason?: string;
        timeoutMs?: number;
    }): Promise<ModeratedFrame>;
    /** Joins refused (for durationSeconds, or until unbanned); live connections removed. */
    ban(userId: string, options?: {
        durationSeconds?: number;
        reason?: string;
        timeoutMs?: number;
    }): Promise<ModeratedFrame>;
    unban(userId: string, options?: RequestOptions): Promise<ModeratedFrame>;
    /** Their sends and typing answer `muted` (for durationSeconds, or until unmuted). */
    mute(userId: string, options?: {
        durationSeconds?: number;
        reason?: string;
        timeoutMs?: number;
    }): Promise<ModeratedFrame>;
    unmute(userId: string, options?: RequestOptions): Promise<ModeratedFrame>;
    /** A tombstone in history; members get `message.deleted` (the `deleted` event). */
    deleteMessage(messageId: string, options?: RequestOptions): Promise<ModeratedFrame>;
    /** Call a member of this room (1:1 WebRTC through client.calls; browsers only). */
    call(userId: string, options?: {
        media?: CallMedia;
        callId?: string;
    }): Promise<Call>;
    private _moderate;
    private _setState;
    /** A join (or rejoin) refused: the codes that say where the room stands end there. Returns whether it did. */
    private _refused;
    /** Out of the room (kick, ban, closure, refusal): no rejoin, sends fail, live state cleared. */
    private _putOut;
    private _applyJoined;
    private _clearLive;
    /** Messages newer than the last one seen, oldest first, paging back with `before`. */
    private _catchUp;
    private _learnMute;
    private _setMuted;
    private _emitMessage;
    /** received: a message from the room (moves lastId); acks only mark seen. */
    private _markSeen;
    private _remember;
    private _applyMemberEvent;
    private _onTyping;
    private _clearTyper;
    /** A stream open when we joined: its text so far (chunks 0..next_seq-1). */
    private _seedStream;
    /**
     * Chunks in seq order: a repeat is dropped, one after a gap is held until the gap fills.
     * A stream first seen mid-way (no `joined` snapshot) holds its chunks and waits for the
     * final message, which carries the whole text.
     */
    private _applyDelta;
    private _drainStream;
    /** The final message of a stream replaces what was assembled. */
    private _finishStream;
    private _emitStream;
}
