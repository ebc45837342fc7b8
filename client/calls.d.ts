// Types for client/calls.js (an ES module; no build step). docs/signaling.md describes
// the protocol; layers/roomcast/roomcast/models/signaling.py holds the frames.

import type { RoomcastClient } from "./roomcast.js";

export declare const DATA_CHANNEL_LABEL: "roomcast";

/** 13 hex digits of milliseconds + 12 random hex digits (roomcast's id format). */
export declare function newCallId(): string;

export type CallMedia = "audio" | "video";
export type CallState = "new" | "invited" | "ringing" | "accepted" | "connected" | "ended" | "failed";
/** The server's call record status. */
export type CallStatus = "invited" | "accepted" | "rejected" | "ended" | "failed" | "missed";

export interface Call {
  callId: string;
  roomId: string;
  role: "caller" | "callee";
  peerId: string;
  peerName: string;
  media: CallMedia;
  state: CallState;
  status: CallStatus | null;
  /** Why it ended or failed: hangup, rejected, cancelled, busy, user-offline, disconnected, ... */
  reason: string | null;
  pc: RTCPeerConnection | null;
  localStream: MediaStream | null;
  remoteStream: MediaStream | null;
  channel: RTCDataChannel | null;
  pendingCandidates: RTCIceCandidateInit[];
}

export interface SignalRelay {
  type: "signal";
  signal: "call-invite" | "call-accept" | "call-reject" | "call-hangup" | "offer" | "answer" | "ice-candidate";
  room_id: string;
  call_id: string;
  from: { user_id: string; name: string };
  status?: CallStatus;
  media?: CallMedia;
  sdp?: RTCSessionDescriptionInit;
  candidate?: RTCIceCandidateInit;
  reason?: string;
}

export interface CallStateDetail {
  call_id: string;
  state: CallState;
  previous: CallState;
  status: CallStatus | null;
  reason: string | null;
  role: "caller" | "callee";
  peer: { user_id: string; name: string };
}

export interface CallManagerEventMap {
  incoming: CustomEvent<{ call_id: string; room_id: string; from: { user_id: string; name: string }; media: CallMedia }>;
  state: CustomEvent<CallStateDetail>;
  "local-stream": CustomEvent<{ call_id: string; stream: MediaStream }>;
  "remote-stream": CustomEvent<{ call_id: string; stream: MediaStream }>;
  "datachannel-open": CustomEvent<{ call_id: string }>;
  "datachannel-message": CustomEvent<{ call_id: string; data: unknown }>;
  error: CustomEvent<{ call_id: string | null; error: unknown }>;
}

export interface CallManagerOptions {
  /** STUN/TURN servers for RTCPeerConnection (default []: host candidates only). */
  iceServers?: RTCIceServer[];
  /** Default: {audio: true, video: media === "video"}. */
  mediaConstraints?: (media: CallMedia) => MediaStreamConstraints;
  getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  RTCPeerConnection?: typeof RTCPeerConnection;
}

export declare class CallManager extends EventTarget {
  constructor(client: RoomcastClient, options?: CallManagerOptions);
  readonly client: RoomcastClient;
  readonly calls: Map<string, Call>;
  /** The call that is not over yet, if any. */
  readonly active: Call | undefined;
  get(callId: string): Call | undefined;

  /** Resolves with the call in state "invited", or "failed" (reason user-offline / busy). */
  invite(roomId: string, userId: string, options?: { media?: CallMedia; callId?: string }): Promise<Call>;
  accept(callId: string): Promise<Call>;
  reject(callId: string, reason?: string): Promise<void>;
  hangup(callId: string): Promise<void>;
  /** Send on the "roomcast" data channel (throws unless it is open). */
  send(callId: string, data: string | ArrayBuffer | Blob | ArrayBufferView): void;
  dispose(): void;

  addEventListener<K extends keyof CallManagerEventMap>(
    type: K,
    listener: (event: CallManagerEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
}
