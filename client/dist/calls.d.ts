import { Emitter } from "./emitter.js";
import type { RoomcastClient } from "./client.js";
/** The data channel every call opens (the caller creates it, the callee receives it). */
export declare const DATA_CHANNEL_LABEL = "roomcast";
export type CallMedia = "audio" | "video";
export type CallState = "new" | "invited" | "ringing" | "accepted" | "connected" | "ended" | "failed";
/** The server's call record status. */
export type CallStatus = "invited" | "accepted" | "rejected" | "ended" | "failed" | "missed";
/** A call id in roomcast's id format (13 hex digits of ms + 12 random hex), proposed by the caller. */
export declare function newCallId(): string;
export interface Call {
    callId: string;
    roomId: string;
    role: "caller" | "callee";
    peerId: string;
    peerName: string;
    media: CallMedia;
    state: CallState;
    /** The server's call status (invited, accepted, ended, ...). */
    status: string | null;
    /** Why it ended or failed: hangup, rejected, busy, user-offline, disconnected, ... */
    reason: string | null;
    pc: RTCPeerConnection | null;
    localStream: MediaStream | null;
    remoteStream: MediaStream | null;
    channel: RTCDataChannel | null;
    /** Candidates received before the remote description. */
    pendingCandidates: RTCIceCandidateInit[];
}
export interface CallStateDetail {
    call_id: string;
    room_id: string;
    state: CallState;
    previous: CallState;
    status: string | null;
    reason: string | null;
    role: "caller" | "callee";
    media: CallMedia;
    peer: {
        user_id: string;
        name: string;
    };
}
export interface CallManagerEventMap {
    /** A call rings here. */
    incoming: {
        call_id: string;
        room_id: string;
        from: {
            user_id: string;
            name: string;
        };
        media: CallMedia;
    };
    /** A call changed state. */
    state: CallStateDetail;
    "local-stream": {
        call_id: string;
        stream: MediaStream;
    };
    "remote-stream": {
        call_id: string;
        stream: MediaStream;
    };
    "datachannel-open": {
        call_id: string;
    };
    "datachannel-message": {
        call_id: string;
        data: unknown;
    };
    /** A signaling or WebRTC failure. */
    error: {
        call_id: string | null;
        error: unknown;
    };
}
export interface CallManagerOptions {
    /** STUN/TURN servers for RTCPeerConnection (default []: host candidates only). */
    iceServers?: RTCIceServer[];
    /** Default: {audio: true, video: media === "video"}. */
    mediaConstraints?: (media: CallMedia) => MediaStreamConstraints;
    getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
    RTCPeerConnection?: typeof RTCPeerConnection;
}
export declare class CallManager extends Emitter<CallManagerEventMap> {
    readonly client: RoomcastClient;
    readonly iceServers: RTCIceServer[];
    readonly calls: Map<string, Call>;
    private readonly _mediaConstraints;
    private readonly _getUserMedia;
    private readonly _RTCPeerConnection;
    private readonly _offSignal;
    private readonly _offState;
    constructor(client: RoomcastClient, options?: CallManagerOptions);
    /** Stop listening to the client and end every call. */
    dispose(): void;
    get(callId: string): Call | undefined;
    /** The call that is not over yet, if any (roomcast allows one per user). */
    get active(): Call | undefined;
    /**
     * Call a member of a room. Resolves once the server has rung the callee (state
     * "invited"), or with the call in state "failed" (reason "user-offline" / "busy").
     * Rejects with the server's RoomcastError (e.g. not_member, rate_limited).
     * callId: from newCallId(), to follow the call's events before this promise settles.
     */
    invite(roomId: string, userId: string, options?: {
        media?: CallMedia;
        callId?: string;
        peerName?: string;
    }): Promise<Call>;
    /** Answer a ringing call: opens local media, then tells the caller, who sends the offer. */
    accept(callId: string): Promise<Call>;
    /** Decline a ringing call (reason: a short token such as "busy-elsewhere"). */
    reject(callId: string, reason?: string): Promise<void>;
    /** End a call in any state (cancels an outgoing call that still rings). */
    hangup(callId: string): Promise<void>;
    /** Send on the call's data channel (throws unless it is open). */
    send(callId: string, data: string | ArrayBuffer | Blob | ArrayBufferView): void;
    private _handleSignal;
    private _onInvite;
    /** The callee accepted: the caller opens the data channel and makes the offer. */
    private _onAccepted;
    private _onOffer;
    private _setRemote;
    private _onRemoteCandidate;
    private _startLocalMedia;
    private _createPeerConnection;
    private _attachChannel;
    private _newCall;
    private _require;
    private _signal;
    private _setState;
    /** Tear a call down locally (idempotent): close the connection, stop our tracks. */
    private _end;
    private _fail;
}
