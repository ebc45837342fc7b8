// 1:1 WebRTC audio/video calls signaled through roomcast (docs/signaling.md). The client's
// `calls` property is one CallManager; room.call(userId) starts a call in that room:
//
//   client.calls.on("incoming", ({ call_id }) => client.calls.accept(call_id));
//   client.calls.on("remote-stream", ({ stream }) => (video.srcObject = stream));
//   const call = await client.room("standup").call("bob", { media: "video" });
//
// Signaling (action "signal"): the caller sends call-invite; the callee answers
// call-accept or call-reject; then the caller sends the SDP offer, the callee the answer,
// and both trickle ICE candidates; either side ends it with call-hangup. The server keeps
// the call record (invited -> accepted -> ended, or rejected / missed / failed) and relays
// every signal to the other participant only.

import { Emitter } from "./emitter.js";
import type { RoomcastClient } from "./client.js";
import type { SignalAckFrame, SignalRelayFrame } from "./wire.js";

/** The data channel every call opens (the caller creates it, the callee receives it). */
export const DATA_CHANNEL_LABEL = "roomcast";

export type CallMedia = "audio" | "video";
export type CallState = "new" | "invited" | "ringing" | "accepted" | "connected" | "ended" | "failed";
/** The server's call record status. */
export type CallStatus = "invited" | "accepted" | "rejected" | "ended" | "failed" | "missed";

const TERMINAL = new Set<CallState>(["ended", "failed"]);

/** A call id in roomcast's id format (13 hex digits of ms + 12 random hex), proposed by the caller. */
export function newCallId(): string {
  const random = new Uint8Array(6);
  globalThis.crypto.getRandomValues(random);
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return Date.now().toString(16).padStart(13, "0") + hex;
}

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
  peer: { user_id: string; name: string };
}

export interface CallManagerEventMap {
  /** A call rings here. */
  incoming: { call_id: string; room_id: string; from: { user_id: string; name: string }; media: CallMedia };
  /** A call changed state. */
  state: CallStateDetail;
  "local-stream": { call_id: string; stream: MediaStream };
  "remote-stream": { call_id: string; stream: MediaStream };
  "datachannel-open": { call_id: string };
  "datachannel-message": { call_id: string; data: unknown };
  /** A signaling or WebRTC failure. */
  error: { call_id: string | null; error: unknown };
}

export interface CallManagerOptions {
  /** STUN/TURN servers for RTCPeerConnection (default []: host candidates only). */
  iceServers?: RTCIceServer[];
  /** Default: {audio: true, video: media === "video"}. */
  mediaConstraints?: (media: CallMedia) => MediaStreamConstraints;
  getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  RTCPeerConnection?: typeof RTCPeerConnection;
}

type SignalReply = SignalAckFrame | { type: "call-failed"; reason: string; status?: string };

export class CallManager extends Emitter<CallManagerEventMap> {
  readonly client: RoomcastClient;
  readonly iceServers: RTCIceServer[];
  readonly calls = new Map<string, Call>();
  private readonly _mediaConstraints: (media: CallMedia) => MediaStreamConstraints;
  private readonly _getUserMedia: (c: MediaStreamConstraints) => Promise<MediaStream>;
  private readonly _RTCPeerConnection: typeof RTCPeerConnection | undefined;
  private readonly _offSignal: () => void;
  private readonly _offState: () => void;

  constructor(client: RoomcastClient, options: CallManagerOptions = {}) {
    super();
    this.client = client;
    this.iceServers = options.iceServers ?? [];
    this._mediaConstraints = options.mediaConstraints ?? ((media) => ({ audio: true, video: media === "video" }));
    this._getUserMedia = options.getUserMedia ?? ((constraints) => navigator.mediaDevices.getUserMedia(constraints));
    this._RTCPeerConnection = options.RTCPeerConnection ?? (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;
    this._offSignal = client.on("signal", (frame) => this._handleSignal(frame as SignalRelayFrame));
    this._offState = client.on("state", ({ state }) => {
      // The server ends our calls when the socket goes ($disconnect); follow suit here.
      if (state !== "open") for (const call of this.calls.values()) this._end(call, "ended", "disconnected");
    });
  }

  /** Stop listening to the client and end every call. */
  dispose(): void {
    for (const call of [...this.calls.values()]) void this.hangup(call.callId).catch(() => {});
    this._offSignal();
    this._offState();
  }

  get(callId: string): Call | undefined {
    return this.calls.get(callId);
  }

  /** The call that is not over yet, if any (roomcast allows one per user). */
  get active(): Call | undefined {
    for (const call of this.calls.values()) if (!TERMINAL.has(call.state)) return call;
    return undefined;
  }

  // ------------------------------------------------------------------ actions

  /**
   * Call a member of a room. Resolves once the server has rung the callee (state
   * "invited"), or with the call in state "failed" (reason "user-offline" / "busy").
   * Rejects with the server's RoomcastError (e.g. not_member, rate_limited).
   * callId: from newCallId(), to follow the call's events before this promise settles.
   */
  async invite(
    roomId: string,
    userId: string,
    options: { media?: CallMedia; callId?: string; peerName?: string } = {},
  ): Promise<Call> {
    const media = options.media ?? "audio";
    const call = this._newCall({
      callId: options.callId ?? newCallId(),
      roomId,
      role: "caller",
      peerId: userId,
      peerName: options.peerName ?? userId,
      media,
    });
    try {
      // Media first: an invite we cannot follow with a stream would only ring in vain.
      await this._startLocalMedia(call);
    } catch (error) {
      this._end(call, "failed", "media-unavailable");
      throw error;
    }
    this.calls.set(call.callId, call);
    let reply: SignalReply;
    try {
      reply = await this.client._request<SignalReply>(
        { action: "signal", type: "call-invite", room_id: roomId, to: userId, media, call_id: call.callId },
        {},
      );
    } catch (error) {
      this._end(call, "failed", (error as { code?: string }).code ?? "error");
      throw error;
    }
    if (reply.type === "call-failed") {
      call.status = "failed";
      this._end(call, "failed", reply.reason);
    } else if (call.state === "new") {
      this._setState(call, "invited", reply.status);
    }
    return call;
  }

  /** Answer a ringing call: opens local media, then tells the caller, who sends the offer. */
  async accept(callId: string): Promise<Call> {
    const call = this._require(callId);
    if (call.role !== "callee" || call.state !== "ringing") {
      throw new Error(`call ${callId} is ${call.state}; only a ringing incoming call can be accepted`);
    }
    try {
      await this._startLocalMedia(call);
    } catch (error) {
      await this.reject(callId, "media-unavailable").catch(() => {});
      throw error;
    }
    this._createPeerConnection(call);
    const reply = await this._signal(call, "call-accept");
    if (!TERMINAL.has(call.state)) this._setState(call, "accepted", reply.status);
    return call;
  }

  /** Decline a ringing call (reason: a short token such as "busy-elsewhere"). */
  async reject(callId: string, reason?: string): Promise<void> {
    const call = this._require(callId);
    try {
      await this._signal(call, "call-reject", reason ? { reason } : {});
    } finally {
      this._end(call, "ended", reason ?? "rejected", "rejected");
    }
  }

  /** End a call in any state (cancels an outgoing call that still rings). */
  async hangup(callId: string): Promise<void> {
    const call = this._require(callId);
    if (TERMINAL.has(call.state)) return;
    try {
      await this._signal(call, "call-hangup");
    } finally {
      this._end(call, "ended", "hangup");
    }
  }

  /** Send on the call's data channel (throws unless it is open). */
  send(callId: string, data: string | ArrayBuffer | Blob | ArrayBufferView): void {
    const call = this._require(callId);
    if (!call.channel || call.channel.readyState !== "open") {
      throw new Error(`the data channel of call ${callId} is not open`);
    }
    call.channel.send(data as string);
  }

  // ------------------------------------------------------------------ incoming signals

  private _handleSignal(frame: SignalRelayFrame): void {
    if (!frame || frame.type !== "signal") return; // call-failed replies resolve invite()
    const call = this.calls.get(frame.call_id);
    try {
      switch (frame.signal) {
        case "call-invite":
          this._onInvite(frame);
          break;
        case "call-accept":
          if (call && call.role === "caller") void this._onAccepted(call, frame);
          break;
        case "offer":
          if (call) void this._onOffer(call, frame.sdp as unknown as RTCSessionDescriptionInit);
          break;
        case "answer":
          if (call?.pc) void this._setRemote(call, frame.sdp as unknown as RTCSessionDescriptionInit);
          break;
        case "ice-candidate":
          if (call) void this._onRemoteCandidate(call, frame.candidate as RTCIceCandidateInit);
          break;
        case "call-reject":
        case "call-hangup":
          if (call) this._end(call, "ended", frame.reason ?? frame.signal, frame.status);
          break;
        default:
          break;
      }
    } catch (error) {
      this._fail(call, error);
    }
  }

  private _onInvite(frame: SignalRelayFrame): void {
    if (this.calls.has(frame.call_id)) return;
    const call = this._newCall({
      callId: frame.call_id,
      roomId: frame.room_id,
      role: "callee",
      peerId: frame.from?.user_id,
      peerName: frame.from?.name ?? frame.from?.user_id,
      media: frame.media === "video" ? "video" : "audio",
    });
    this.calls.set(call.callId, call);
    this._setState(call, "ringing", "invited");
    this.emit("incoming", { call_id: call.callId, room_id: call.roomId, from: frame.from, media: call.media });
  }

  /** The callee accepted: the caller opens the data channel and makes the offer. */
  private async _onAccepted(call: Call, frame: SignalRelayFrame): Promise<void> {
    if (TERMINAL.has(call.state)) return;
    if (frame.from?.name) call.peerName = frame.from.name;
    this._setState(call, "accepted", frame.status ?? "accepted");
    const pc = this._createPeerConnection(call);
    this._attachChannel(call, pc.createDataChannel(DATA_CHANNEL_LABEL));
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const local = pc.localDescription as RTCSessionDescription;
      await this._signal(call, "offer", { sdp: { type: local.type, sdp: local.sdp } });
    } catch (error) {
      this._fail(call, error);
    }
  }

  private async _onOffer(call: Call, sdp: RTCSessionDescriptionInit): Promise<void> {
    const pc = call.pc ?? this._createPeerConnection(call);
    try {
      await this._setRemote(call, sdp);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      const local = pc.localDescription as RTCSessionDescription;
      await this._signal(call, "answer", { sdp: { type: local.type, sdp: local.sdp } });
    } catch (error) {
      this._fail(call, error);
    }
  }

  private async _setRemote(call: Call, sdp: RTCSessionDescriptionInit): Promise<void> {
    const pc = call.pc as RTCPeerConnection;
    await pc.setRemoteDescription(sdp);
    // Candidates that raced ahead of the description.
    const pending = call.pendingCandidates.splice(0);
    for (const candidate of pending) await pc.addIceCandidate(candidate);
  }

  private async _onRemoteCandidate(call: Call, candidate: RTCIceCandidateInit): Promise<void> {
    if (!call.pc || !call.pc.remoteDescription) {
      call.pendingCandidates.push(candidate);
      return;
    }
    try {
      await call.pc.addIceCandidate(candidate);
    } catch (error) {
      this.emit("error", { call_id: call.callId, error });
    }
  }

  // ------------------------------------------------------------------ WebRTC plumbing

  private async _startLocalMedia(call: Call): Promise<MediaStream> {
    if (call.localStream) return call.localStream;
    call.localStream = await this._getUserMedia(this._mediaConstraints(call.media));
    this.emit("local-stream", { call_id: call.callId, stream: call.localStream });
    return call.localStream;
  }

  private _createPeerConnection(call: Call): RTCPeerConnection {
    if (call.pc) return call.pc;
    if (!this._RTCPeerConnection) throw new Error("RTCPeerConnection is not available here");
    const pc = new this._RTCPeerConnection({ iceServers: this.iceServers });
    call.pc = pc;
    if (call.localStream) {
      for (const track of call.localStream.getTracks()) pc.addTrack(track, call.localStream);
    }
    pc.onicecandidate = (event) => {
      // A null candidate marks the end of gathering: nothing to send.
      if (!event.candidate || TERMINAL.has(call.state)) return;
      void this._signal(call, "ice-candidate", { candidate: event.candidate.toJSON() }).catch((error) =>
        this.emit("error", { call_id: call.callId, error }),
      );
    };
    pc.ontrack = (event) => {
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      if (call.remoteStream === stream) return;
      call.remoteStream = stream;
      this.emit("remote-stream", { call_id: call.callId, stream });
    };
    pc.ondatachannel = (event) => this._attachChannel(call, event.channel);
    pc.onconnectionstatechange = () => {
      if (TERMINAL.has(call.state)) return;
      if (pc.connectionState === "connected") {
        this._setState(call, "connected", call.status);
      } else if (pc.connectionState === "failed") {
        // ICE could not find a path (e.g. no TURN server behind strict NATs).
        void this._signal(call, "call-hangup", { reason: "ice-failed" }).catch(() => {});
        this._end(call, "failed", "ice-failed");
      }
    };
    return pc;
  }

  private _attachChannel(call: Call, channel: RTCDataChannel): void {
    if (channel.label !== DATA_CHANNEL_LABEL) return;
    call.channel = channel;
    channel.onopen = () => this.emit("datachannel-open", { call_id: call.callId });
    channel.onmessage = (event) => this.emit("datachannel-message", { call_id: call.callId, data: event.data });
  }

  // ------------------------------------------------------------------ helpers

  private _newCall(fields: Pick<Call, "callId" | "roomId" | "role" | "peerId" | "peerName" | "media">): Call {
    return {
      state: "new",
      status: null,
      reason: null,
      pc: null,
      localStream: null,
      remoteStream: null,
      channel: null,
      pendingCandidates: [],
      ...fields,
    };
  }

  private _require(callId: string): Call {
    const call = this.calls.get(callId);
    if (!call) throw new Error(`unknown call ${callId}`);
    return call;
  }

  private _signal(call: Call, type: string, extra: Record<string, unknown> = {}): Promise<SignalAckFrame> {
    return this.client._request<SignalAckFrame>(
      { action: "signal", type, room_id: call.roomId, call_id: call.callId, ...extra },
      {},
    );
  }

  private _setState(call: Call, state: CallState, status?: string | null): void {
    const previous = call.state;
    if (status !== undefined && status !== null) call.status = status;
    if (previous === state) return;
    call.state = state;
    this.emit("state", {
      call_id: call.callId,
      room_id: call.roomId,
      state,
      previous,
      status: call.status,
      reason: call.reason,
      role: call.role,
      media: call.media,
      peer: { user_id: call.peerId, name: call.peerName },
    });
  }

  /** Tear a call down locally (idempotent): close the connection, stop our tracks. */
  private _end(call: Call, state: "ended" | "failed", reason: string, status?: string): void {
    if (TERMINAL.has(call.state)) return;
    call.reason = reason;
    if (call.channel) call.channel.onmessage = null;
    if (call.pc) {
      call.pc.onicecandidate = null;
      call.pc.onconnectionstatechange = null;
      call.pc.close();
    }
    for (const track of call.localStream?.getTracks() ?? []) track.stop();
    this._setState(call, state, status ?? (state === "failed" ? "failed" : "ended"));
  }

  private _fail(call: Call | undefined, error: unknown): void {
    this.emit("error", { call_id: call?.callId ?? null, error });
    if (call && !TERMINAL.has(call.state)) {
      void this._signal(call, "call-hangup", { reason: "client-error" }).catch(() => {});
      this._end(call, "failed", "client-error");
    }
  }
}
