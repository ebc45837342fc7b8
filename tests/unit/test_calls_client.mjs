// Unit tests of the client's CallManager (client/src/calls.ts, built to client/dist/) under Node's built-in test runner.
// A fake RoomcastClient records the signal frames and answers them like the signal
// function does; a fake RTCPeerConnection records what the manager asks of WebRTC.
// The real thing (Chromium, real ICE, real media) is tests/e2e/test_call_e2e.py.
// Run through tests/unit/test_client_under_node.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { CallManager, DATA_CHANNEL_LABEL, newCallId } from "../../client/dist/calls.js";

class FakeClient extends EventTarget {
  constructor() {
    super();
    this.sent = [];
    this.replies = []; // functions(frame) -> reply or undefined (default ack)
  }

  // What CallManager uses of RoomcastClient: on() for its events, _request() for signals.
  on(type, listener) {
    const wrapped = (event) => listener(event.detail);
    this.addEventListener(type, wrapped);
    return () => this.removeEventListener(type, wrapped);
  }

  async _request(frame) {
    this.sent.push(frame);
    const custom = this.replies.shift();
    const reply = custom ? custom(frame) : undefined;
    if (reply instanceof Error) throw reply;
    return (
      reply ?? {
        type: "signal.ack",
        request_id: "r",
        signal: frame.type,
        room_id: frame.room_id,
        call_id: frame.call_id,
        status: { "call-invite": "invited", "call-accept": "accepted", "call-reject": "rejected" }[frame.type] ?? "accepted",
        delivered: 1,
      }
    );
  }

  relay(frame) {
    this.dispatchEvent(new CustomEvent("signal", { detail: { type: "signal", room_id: "lobby", ...frame } }));
  }

  ofType(type) {
    return this.sent.filter((f) => f.type === type);
  }
}

class FakeTrack {
  constructor(kind) {
    this.kind = kind;
    this.stopped = false;
  }
  stop() {
    this.stopped = true;
  }
}

class FakeStream {
  constructor(kinds) {
    this.tracks = kinds.map((k) => new FakeTrack(k));
  }
  getTracks() {
    return this.tracks;
  }
}

class FakeChannel {
  constructor(label) {
    this.label = label;
    this.readyState = "connecting";
    this.sentData = [];
  }
  send(data) {
    this.sentData.push(data);
  }
}

class FakePeerConnection {
  static instances = [];
  constructor(config) {
    this.config = config;
    this.tracks = [];
    this.channels = [];
    this.candidates = [];
    this.remoteDescription = null;
    this.localDescription = null;
    this.connectionState = "new";
    this.closed = false;
    FakePeerConnection.instances.push(this);
  }
  addTrack(track) {
    this.tracks.push(track);
  }
  createDataChannel(label) {
    const channel = new FakeChannel(label);
    this.channels.push(channel);
    return channel;
  }
  async createOffer() {
    return { type: "offer", sdp: "v=0 offer" };
  }
  async createAnswer() {
    return { type: "answer", sdp: "v=0 answer" };
  }
  async setLocalDescription(d) {
    this.localDescription = d;
  }
  async setRemoteDescription(d) {
    this.remoteDescription = d;
  }
  async addIceCandidate(c) {
    if (!this.remoteDescription) throw new Error("candidate before the remote description");
    this.candidates.push(c);
  }
  close() {
    this.closed = true;
  }
  // Test helpers: what the browser would do.
  emitCandidate(candidate) {
    this.onicecandidate?.({ candidate: candidate && { toJSON: () => candidate } });
  }
  setConnectionState(state) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup() {
  FakePeerConnection.instances = [];
  const client = new FakeClient();
  const media = [];
  const manager = new CallManager(client, {
    iceServers: [],
    getUserMedia: async (constraints) => {
      const stream = new FakeStream(constraints.video ? ["audio", "video"] : ["audio"]);
      media.push({ constraints, stream });
      return stream;
    },
    RTCPeerConnection: FakePeerConnection,
  });
  const states = [];
  manager.addEventListener("state", (e) => states.push(`${e.detail.state}`));
  return { client, manager, media, states };
}

test("newCallId has roomcast's id format and sorts by time", () => {
  const id = newCallId();
  assert.match(id, /^[0-9a-f]{25}$/);
  assert.ok(Math.abs(parseInt(id.slice(0, 13), 16) - Date.now()) < 5000);
});

test("caller: media first, invite with a proposed id, offer and data channel after the accept", async () => {
  const { client, manager, media, states } = setup();
  const call = await manager.invite("lobby", "bob", { media: "video" });
  assert.deepEqual(media[0].constraints, { audio: true, video: true });
  const [invite] = client.ofType("call-invite");
  assert.deepEqual(
    { to: invite.to, media: invite.media, room_id: invite.room_id, call_id: invite.call_id },
    { to: "bob", media: "video", room_id: "lobby", call_id: call.callId },
  );
  assert.equal(call.state, "invited");
  assert.equal(FakePeerConnection.instances.length, 0); // no connection until accepted

  client.relay({ signal: "call-accept", call_id: call.callId, from: { user_id: "bob", name: "Bob" }, status: "accepted" });
  await tick();
  await tick();
  const [pc] = FakePeerConnection.instances;
  assert.deepEqual(pc.config, { iceServers: [] });
  assert.equal(pc.tracks.length, 2);
  assert.deepEqual(pc.channels.map((c) => c.label), [DATA_CHANNEL_LABEL]);
  const [offer] = client.ofType("offer");
  assert.deepEqual(offer.sdp, { type: "offer", sdp: "v=0 offer" });

  // Candidates are trickled; the answer completes the handshake.
  pc.emitCandidate({ candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0" });
  pc.emitCandidate(null); // end of gathering: nothing sent
  assert.equal(client.ofType("ice-candidate").length, 1);
  client.relay({ signal: "answer", call_id: call.callId, sdp: { type: "answer", sdp: "v=0 answer" } });
  await tick();
  assert.deepEqual(pc.remoteDescription, { type: "answer", sdp: "v=0 answer" });
  pc.setConnectionState("connected");
  assert.deepEqual(states, ["invited", "accepted", "connected"]);
  assert.equal(call.peerName, "Bob");
});

test("caller: call-failed (busy) resolves the invite with a failed call and stops the media", async () => {
  const { client, manager, media, states } = setup();
  client.replies.push((frame) => ({ type: "call-failed", call_id: frame.call_id, reason: "busy", to: "bob" }));
  const call = await manager.invite("lobby", "bob");
  assert.equal(call.state, "failed");
  assert.equal(call.reason, "busy");
  assert.ok(media[0].stream.getTracks().every((t) => t.stopped));
  assert.deepEqual(states, ["failed"]);
  assert.equal(manager.active, undefined);
});

test("caller: a server error rejects the invite and fails the call", async () => {
  const { client, manager } = setup();
  const error = Object.assign(new Error("join the room first"), { code: "not_member" });
  client.replies.push(() => error);
  await assert.rejects(manager.invite("lobby", "bob"), /join the room first/);
  assert.equal([...manager.calls.values()][0].reason, "not_member");
});

test("callee: ringing, accept opens media and answers the offer; early candidates wait", async () => {
  const { client, manager, media, states } = setup();
  const incoming = [];
  manager.addEventListener("incoming", (e) => incoming.push(e.detail));
  const callId = newCallId();
  client.relay({ signal: "call-invite", call_id: callId, media: "audio", from: { user_id: "alice", name: "Alice" } });
  assert.deepEqual(incoming, [{ call_id: callId, room_id: "lobby", from: { user_id: "alice", name: "Alice" }, media: "audio" }]);
  assert.equal(manager.get(callId).state, "ringing");

  await manager.accept(callId);
  assert.deepEqual(media[0].constraints, { audio: true, video: false });
  assert.equal(client.ofType("call-accept")[0].call_id, callId);
  const [pc] = FakePeerConnection.instances;

  // A candidate that overtook the offer is queued, then applied after it.
  client.relay({ signal: "ice-candidate", call_id: callId, candidate: { candidate: "c1" } });
  await tick();
  assert.deepEqual(pc.candidates, []);
  client.relay({ signal: "offer", call_id: callId, sdp: { type: "offer", sdp: "v=0 offer" } });
  await tick();
  await tick();
  assert.deepEqual(pc.candidates, [{ candidate: "c1" }]);
  assert.deepEqual(client.ofType("answer")[0].sdp, { type: "answer", sdp: "v=0 answer" });

  // The caller's data channel arrives; messages become events.
  const received = [];
  manager.addEventListener("datachannel-message", (e) => received.push(e.detail.data));
  const channel = new FakeChannel(DATA_CHANNEL_LABEL);
  pc.ondatachannel({ channel });
  channel.onmessage({ data: "hi" });
  assert.deepEqual(received, ["hi"]);
  channel.readyState = "open";
  manager.send(callId, "hello back");
  assert.deepEqual(channel.sentData, ["hello back"]);

  // The peer hangs up: everything is released.
  client.relay({ signal: "call-hangup", call_id: callId, reason: "hangup", status: "ended" });
  assert.equal(manager.get(callId).state, "ended");
  assert.ok(pc.closed);
  assert.ok(media[0].stream.getTracks().every((t) => t.stopped));
  assert.deepEqual(states, ["ringing", "accepted", "ended"]);
});

test("callee: reject sends call-reject and ends locally", async () => {
  const { client, manager } = setup();
  const callId = newCallId();
  client.relay({ signal: "call-invite", call_id: callId, from: { user_id: "alice", name: "Alice" } });
  await manager.reject(callId, "busy-elsewhere");
  assert.deepEqual(
    { type: client.sent[0].type, reason: client.sent[0].reason },
    { type: "call-reject", reason: "busy-elsewhere" },
  );
  assert.equal(manager.get(callId).state, "ended");
  assert.equal(manager.get(callId).status, "rejected");
  await assert.rejects(manager.accept(callId), /only a ringing incoming call/);
});

test("hangup, ICE failure and a closed socket all end calls", async () => {
  const { client, manager } = setup();
  const first = await manager.invite("lobby", "bob");
  await manager.hangup(first.callId);
  assert.equal(client.ofType("call-hangup").length, 1);
  assert.equal(first.state, "ended");
  await manager.hangup(first.callId); // idempotent: nothing more is sent
  assert.equal(client.ofType("call-hangup").length, 1);

  const second = await manager.invite("lobby", "bob");
  client.relay({ signal: "call-accept", call_id: second.callId, from: { user_id: "bob", name: "Bob" } });
  await tick();
  await tick();
  FakePeerConnection.instances.at(-1).setConnectionState("failed");
  assert.equal(second.state, "failed");
  assert.equal(second.reason, "ice-failed");
  assert.equal(client.ofType("call-hangup").at(-1).reason, "ice-failed");

  const third = await manager.invite("lobby", "bob");
  client.dispatchEvent(new CustomEvent("state", { detail: { state: "reconnecting", previous: "open", attempt: 1 } }));
  assert.equal(third.state, "ended");
  assert.equal(third.reason, "disconnected");
});

test("signals for unknown calls and non-signal frames are ignored", () => {
  const { client, manager } = setup();
  client.relay({ signal: "offer", call_id: newCallId(), sdp: { type: "offer", sdp: "x" } });
  client.dispatchEvent(new CustomEvent("signal", { detail: { type: "call-failed", call_id: "x", reason: "busy" } }));
  assert.equal(manager.calls.size, 0);
  assert.equal(client.sent.length, 0);
});
