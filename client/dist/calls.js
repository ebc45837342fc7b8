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
/** The data channel every call opens (the caller creates it, the callee receives it). */
export const DATA_CHANNEL_LABEL = "roomcast";
const TERMINAL = new Set(["ended", "failed"]);
/** A call id in roomcast's id format (13 hex digits of ms + 12 random hex), proposed by the caller. */
export function newCallId() {
    const random = new Uint8Array(6);
    globalThis.crypto.getRandomValues(random);
    const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
    return Date.now().toString(16).padStart(13, "0") + hex;
}
export class CallManager extends Emitter {
    client;
    iceServers;
    calls = new Map();
    _mediaConstraints;
    _getUserMedia;
    _RTCPeerConnection;
    _offSignal;
    _offState;
    constructor(client, options = {}) {
        super();
        this.client = client;
        this.iceServers = options.iceServers ?? [];
        this._mediaConstraints = options.mediaConstraints ?? ((media) => ({ audio: true, video: media === "video" }));
        this._getUserMedia = options.getUserMedia ?? ((constraints) => navigator.mediaDevices.getUserMedia(constraints));
        this._RTCPeerConnection = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
        this._offSignal = client.on("signal", (frame) => this._handleSignal(frame));
        this._offState = client.on("state", ({ state }) => {
            // The server ends our calls when the socket goes ($disconnect); follow suit here.
            if (state !== "open")
                for (const call of this.calls.values())
                    this._end(call, "ended", "disconnected");
        });
    }
    /** Stop listening to the client and end every call. */
    dispose() {
        for (const call of [...this.calls.values()])
            void this.hangup(call.callId).catch(() => { });
        this._offSignal();
        this._offState();
    }
    get(callId) {
        return this.calls.get(callId);
    }
    /** The call that is not over yet, if any (roomcast allows one per user). */
    get active() {
        for (const call of this.calls.values())
            if (!TERMINAL.has(call.state))
                return call;
        return undefined;
    }
    // ------------------------------------------------------------------ actions
    /**
     * Call a member of a room. Resolves once the server has rung the callee (state
     * "invited"), or with the call in state "failed" (reason "user-offline" / "busy").
     * Rejects with the server's RoomcastError (e.g. not_member, rate_limited).
     * callId: from newCallId(), to follow the call's events before this promise settles.
     */
    async invite(roomId, userId, options = {}) {
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
        }
        catch (error) {
            this._end(call, "failed", "media-unavailable");
            throw error;
        }
        this.calls.set(call.callId, call);
        let reply;
        try {
            reply = await this.client._request({ action: "signal", type: "call-invite", room_id: roomId, to: userId, media, call_id: call.callId }, {});
        }
        catch (error) {
            this._end(call, "failed", error.code ?? "error");
            throw error;
        }
        if (reply.type === "call-failed") {
            call.status = "failed";
            this._end(call, "failed", reply.reason);
        }
        else if (call.state === "new") {
            this._setState(call, "invited", reply.status);
        }
        return call;
    }
    /** Answer a ringing call: opens local media, then tells the caller, who sends the offer. */
    async accept(callId) {
        const call = this._require(callId);
        if (call.role !== "callee" || call.state !== "ringing") {
            throw new Error(`call ${callId} is ${call.state}; only a ringing incoming call can be accepted`);
        }
        try {
            await this._startLocalMedia(call);
        }
        catch (error) {
            await this.reject(callId, "media-unavailable").catch(() => { });
            throw error;
        }
        this._createPeerConnection(call);
        const reply = await this._signal(call, "call-accept");
        if (!TERMINAL.has(call.state))
            this._setState(call, "accepted", reply.status);
        return call;
    }
    /** Decline a ringing call (reason: a short token such as "busy-elsewhere"). */
    async reject(callId, reason) {
        const call = this._require(callId);
        try {
            await this._signal(call, "call-reject", reason ? { reason } : {});
        }
        finally {
            this._end(call, "ended", reason ?? "rejected", "rejected");
        }
    }
    /** End a call in any state (cancels an outgoing call that still rings). */
    async hangup(callId) {
        const call = this._require(callId);
        if (TERMINAL.has(call.state))
            return;
        try {
            await this._signal(call, "call-hangup");
        }
        finally {
            this._end(call, "ended", "hangup");
        }
    }
    /** Send on the call's data channel (throws unless it is open). */
    send(callId, data) {
        const call = this._require(callId);
        if (!call.channel || call.channel.readyState !== "open") {
            throw new Error(`the data channel of call ${callId} is not open`);
        }
        call.channel.send(data);
    }
    // ------------------------------------------------------------------ incoming signals
    _handleSignal(frame) {
        if (!frame || frame.type !== "signal")
            return; // call-failed replies resolve invite()
        const call = this.calls.get(frame.call_id);
        try {
            switch (frame.signal) {
                case "call-invite":
                    this._onInvite(frame);
                    break;
                case "call-accept":
                    if (call && call.role === "caller")
                        void this._onAccepted(call, frame);
                    break;
                case "offer":
                    if (call)
                        void this._onOffer(call, frame.sdp);
                    break;
                case "answer":
                    if (call?.pc)
                        void this._setRemote(call, frame.sdp);
                    break;
                case "ice-candidate":
                    if (call)
                        void this._onRemoteCandidate(call, frame.candidate);
                    break;
                case "call-reject":
                case "call-hangup":
                    if (call)
                        this._end(call, "ended", frame.reason ?? frame.signal, frame.status);
                    break;
                default:
                    break;
            }
        }
        catch (error) {
            this._fail(call, error);
        }
    }
    _onInvite(frame) {
        if (this.calls.has(frame.call_id))
            return;
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
    async _onAccepted(call, frame) {
        if (TERMINAL.has(call.state))
            return;
        if (frame.from?.name)
            call.peerName = frame.from.name;
        this._setState(call, "accepted", frame.status ?? "accepted");
        const pc = this._createPeerConnection(call);
        this._attachChannel(call, pc.createDataChannel(DATA_CHANNEL_LABEL));
        try {
            const offer = await pc.createOffer();
            await pc.setLocalDescription(offer);
            const local = pc.localDescription;
            await this._signal(call, "offer", { sdp: { type: local.type, sdp: local.sdp } });
        }
        catch (error) {
            this._fail(call, error);
        }
    }
    async _onOffer(call, sdp) {
        const pc = call.pc ?? this._createPeerConnection(call);
        try {
            await this._setRemote(call, sdp);
            const answer = await pc.createAnswer();
            await pc.setLocalDescription(answer);
            const local = pc.localDescription;
            await this._signal(call, "answer", { sdp: { type: local.type, sdp: local.sdp } });
        }
        catch (error) {
            this._fail(call, error);
        }
    }
    async _setRemote(call, sdp) {
        const pc = call.pc;
        await pc.setRemoteDescription(sdp);
        // Candidates that raced ahead of the description.
        const pending = call.pendingCandidates.splice(0);
        for (const candidate of pending)
            await pc.addIceCandidate(candidate);
    }
    async _onRemoteCandidate(call, candidate) {
        if (!call.pc || !call.pc.remoteDescription) {
            call.pendingCandidates.push(candidate);
            return;
        }
        try {
            await call.pc.addIceCandidate(candidate);
        }
        catch (error) {
            this.emit("error", { call_id: call.callId, error });
        }
    }
    // ------------------------------------------------------------------ WebRTC plumbing
    async _startLocalMedia(call) {
        if (call.localStream)
            return call.localStream;
        call.localStream = await this._getUserMedia(this._mediaConstraints(call.media));
        this.emit("local-stream", { call_id: call.callId, stream: call.localStream });
        return call.localStream;
    }
    _createPeerConnection(call) {
        if (call.pc)
            return call.pc;
        if (!this._RTCPeerConnection)
            throw new Error("RTCPeerConnection is not available here");
        const pc = new this._RTCPeerConnection({ iceServers: this.iceServers });
        call.pc = pc;
        if (call.localStream) {
            for (const track of call.localStream.getTracks())
                pc.addTrack(track, call.localStream);
        }
        pc.onicecandidate = (event) => {
            // A null candidate marks the end of gathering: nothing to send.
            if (!event.candidate || TERMINAL.has(call.state))
                return;
            void this._signal(call, "ice-candidate", { candidate: event.candidate.toJSON() }).catch((error) => this.emit("error", { call_id: call.callId, error }));
        };
        pc.ontrack = (event) => {
            const stream = event.streams[0] ?? new MediaStream([event.track]);
            if (call.remoteStream === stream)
                return;
            call.remoteStream = stream;
            this.emit("remote-stream", { call_id: call.callId, stream });
        };
        pc.ondatachannel = (event) => this._attachChannel(call, event.channel);
        pc.onconnectionstatechange = () => {
            if (TERMINAL.has(call.state))
                return;
            if (pc.connectionState === "connected") {
                this._setState(call, "connected", call.status);
            }
            else if (pc.connectionState === "failed") {
                // ICE could not find a path (e.g. no TURN server behind strict NATs).
                void this._signal(call, "call-hangup", { reason: "ice-failed" }).catch(() => { });
                this._end(call, "failed", "ice-failed");
            }
        };
        return pc;
    }
    _attachChannel(call, channel) {
        if (channel.label !== DATA_CHANNEL_LABEL)
            return;
        call.channel = channel;
        channel.onopen = () => this.emit("datachannel-open", { call_id: call.callId });
        channel.onmessage = (event) => this.emit("datachannel-message", { call_id: call.callId, data: event.data });
    }
    // ------------------------------------------------------------------ helpers
    _newCall(fields) {
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
    _require(callId) {
        const call = this.calls.get(callId);
        if (!call)
            throw new Error(`unknown call ${callId}`);
        return call;
    }
    _signal(call, type, extra = {}) {
        return this.client._request({ action: "signal", type, room_id: call.roomId, call_id: call.callId, ...extra }, {});
    }
    _setState(call, state, status) {
        const previous = call.state;
        if (status !== undefined && status !== null)
            call.status = status;
        if (previous === state)
            return;
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
    _end(call, state, reason, status) {
        if (TERMINAL.has(call.state))
            return;
        call.reason = reason;
        if (call.channel)
            call.channel.onmessage = null;
        if (call.pc) {
            call.pc.onicecandidate = null;
            call.pc.onconnectionstatechange = null;
            call.pc.close();
        }
        for (const track of call.localStream?.getTracks() ?? [])
            track.stop();
        this._setState(call, state, status ?? (state === "failed" ? "failed" : "ended"));
    }
    _fail(call, error) {
        this.emit("error", { call_id: call?.callId ?? null, error });
        if (call && !TERMINAL.has(call.state)) {
            void this._signal(call, "call-hangup", { reason: "client-error" }).catch(() => { });
            this._end(call, "failed", "client-error");
        }
    }
}
