// Unit tests of client/roomcast.js under Node's built-in test runner (no npm packages).
// A scripted in-memory server stands in for the gateway: it answers join/leave/send/
// history/ping/close with frames of the shapes in roomcast/models/frames.py, so the
// client's reconnect, catch-up, dedupe and resend logic is checked deterministically.
// The real thing is covered by the Chromium tests (test_chat_e2e.py); run through
// tests/unit/test_client_under_node.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { RoomcastClient, RoomcastError } from "../../client/roomcast.js";

class FakeServer {
  constructor() {
    this.sockets = [];
    this.rooms = new Map(); // room_id -> {messages: [], closed: false}
    this.nextId = 1;
    this.acceptConnections = true;
    this.answerPings = true;
    this.frames = []; // every client frame, in order: [socket, frame]
  }

  room(id) {
    if (!this.rooms.has(id)) this.rooms.set(id, { messages: [], closed: false });
    return this.rooms.get(id);
  }

  newId() {
    // Fixed-width hex, time ordered, like roomcast.ids.new_id().
    return (this.nextId++).toString(16).padStart(25, "0");
  }

  /** A message stored by someone else (not through a socket of the client under test). */
  storeExternal(roomId, text) {
    const message = { id: this.newId(), room_id: roomId, user_id: "zed", name: "Zed", text, sent_at: "t" };
    this.room(roomId).messages.push(message);
    for (const s of this.sockets) if (s.joined.has(roomId) && s.readyState === 1) s.deliver({ type: "message", message });
    return message;
  }

  handle(socket, frame) {
    this.frames.push([socket, frame]);
    const rid = frame.request_id;
    const room = frame.room_id ? this.room(frame.room_id) : null;
    switch (frame.action) {
      case "join": {
        if (room.closed) return socket.deliver({ type: "error", code: "room_closed", message: "closed", request_id: rid });
        if (room.banned) return socket.deliver({ type: "error", code: "banned", message: "banned", request_id: rid, until: "t9" });
        socket.joined.add(frame.room_id);
        const limit = frame.history_limit ?? 50;
        return socket.deliver({
          type: "joined",
          request_id: rid,
          room: { room_id: frame.room_id, name: "R", state: "open" },
          members: [{ user_id: "me", name: "Me", connections: 1, joined_at: "t" }],
          history: this.page(room, null, limit),
          ...(this.joinExtra ?? {}),
        });
      }
      case "history": {
        if (!socket.joined.has(frame.room_id)) return socket.deliver({ type: "error", code: "not_member", message: "join", request_id: rid });
        return socket.deliver({ type: "history", request_id: rid, room_id: frame.room_id, ...this.page(room, frame.before, frame.limit ?? 50) });
      }
      case "send": {
        if (!socket.joined.has(frame.room_id)) return socket.deliver({ type: "error", code: "not_member", message: "join", request_id: rid });
        const dup = room.messages.find((m) => m.client_msg_id && m.client_msg_id === frame.client_msg_id);
        if (dup) return socket.deliver({ type: "ack", request_id: rid, message: dup, duplicate: true });
        const message = { id: this.newId(), room_id: frame.room_id, user_id: "me", name: "Me", text: frame.text, sent_at: "t", client_msg_id: frame.client_msg_id };
        room.messages.push(message);
        if (socket.dropAcks) return undefined; // stored, but the ack is lost with the socket
        return socket.deliver({ type: "ack", request_id: rid, message, delivered: 0 });
      }
      case "ping":
        if (!this.answerPings) return undefined;
        return socket.deliver({ type: "pong", request_id: rid, server_time: "t" });
      case "leave":
        socket.joined.delete(frame.room_id);
        return socket.deliver({ type: "left", request_id: rid, room_id: frame.room_id });
      case "close":
        room.closed = true;
        for (const s of this.sockets) {
          if (s.joined.has(frame.room_id) && s.readyState === 1) {
            s.deliver({ type: "room.closed", room_id: frame.room_id, closed_by: "me", at: "t", ...(s === socket ? { request_id: rid } : {}) });
            s.joined.delete(frame.room_id);
          }
        }
        return undefined;
      case "typing":
        return undefined;
      case "kick":
      case "ban":
      case "unban":
      case "mute":
      case "unmute":
      case "delete_message": {
        // Echo what the client sent, so the test sees the frame's fields.
        const { action, request_id: _, ...rest } = frame;
        return socket.deliver({ type: "moderated", request_id: rid, act: action, sent: rest });
      }
      default:
        return socket.deliver({ type: "error", code: "unknown_action", message: "?", request_id: rid });
    }
  }

  // Same paging as RoomStore.history: newest-first query, page returned oldest-first,
  // cursor = oldest id of the page when more remain.
  page(room, before, limit) {
    const older = room.messages.filter((m) => !before || m.id < before);
    const slice = older.slice(Math.max(0, older.length - limit));
    const more = older.length > slice.length;
    return { messages: slice, ...(more && slice.length ? { next_cursor: slice[0].id } : {}) };
  }
}

let server;

class FakeWebSocket {
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.joined = new Set();
    this.dropAcks = false;
    this.onopen = this.onclose = this.onerror = this.onmessage = null;
    server.sockets.push(this);
    queueMicrotask(() => {
      if (server.acceptConnections === "hang") return undefined; // the handshake never completes
      if (!server.acceptConnections) return this.serverClose(1006, "", false);
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(text) {
    assert.equal(this.readyState, 1, "send on a socket that is not open");
    const frame = JSON.parse(text);
    queueMicrotask(() => this.readyState === 1 && server.handle(this, frame));
  }

  deliver(frame) {
    queueMicrotask(() => this.readyState === 1 && this.onmessage?.({ data: JSON.stringify(frame) }));
  }

  close(code = 1000, reason = "") {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    queueMicrotask(() => this.serverClose(code, reason, true));
  }

  /** The connection ends (server side, or the network). */
  serverClose(code = 1006, reason = "", wasClean = false) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.joined.clear();
    this.onclose?.({ code, reason, wasClean });
  }
}

function makeClient(options = {}) {
  server = server ?? new FakeServer();
  const tokens = [];
  const client = new RoomcastClient({
    url: "ws://fake",
    getToken: async () => {
      const token = `tok${tokens.length}`;
      tokens.push(token);
      return token;
    },
    WebSocket: FakeWebSocket,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
    heartbeatMs: 0,
    ...options,
  });
  const events = [];
  for (const type of ["message", "presence", "room.closed", "reconnecting", "reconnected", "close", "error", "signal", "notification", "frame", "gap"]) {
    client.addEventListener(type, (e) => events.push([type, e.detail]));
  }
  return { client, events, tokens };
}

function once(target, type) {
  return new Promise((resolve) => target.addEventListener(type, (e) => resolve(e.detail), { once: true }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const last = (list) => list[list.length - 1];

test("token travels as a subprotocol next to roomcast.v1; requests correlate", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  await client.connect();
  assert.deepEqual(server.sockets[0].protocols, ["roomcast.v1", "tok0"]);
  const joined = await client.join("r1");
  assert.equal(joined.type, "joined");
  assert.equal(joined.request_id, server.frames[0][1].request_id);
  const pong = await client.ping();
  assert.equal(pong.type, "pong");
  const ack = await client.send("r1", "hello");
  assert.equal(ack.message.text, "hello");
  assert.match(server.frames[2][1].client_msg_id, /^[0-9a-f-]{36}$/);
  client.disconnect();
});

test("error frames reject with the server's code; silence rejects with timeout", async () => {
  server = new FakeServer();
  const { client } = makeClient({ requestTimeoutMs: 20 });
  await client.connect();
  await assert.rejects(client.request({ action: "bogus" }), (e) => e instanceof RoomcastError && e.code === "unknown_action" && Boolean(e.requestId));
  server.answerPings = false;
  await assert.rejects(client.ping(), (e) => e.code === "timeout");
  await assert.rejects(client.request({ action: "send", room_id: "r", text: "x".repeat(40_000) }), (e) => e.code === "payload_too_large");
  client.disconnect();
  await assert.rejects(client.ping(), (e) => e.code === "not_connected");
});

test("a dropped socket reconnects with a fresh token, rejoins, and replays what it missed in order", async () => {
  server = new FakeServer();
  const { client, events, tokens } = makeClient();
  await client.connect();
  server.storeExternal("r1", "before-1");
  await client.join("r1");
  server.storeExternal("r1", "live-1");
  await sleep(5);
  assert.deepEqual(events.filter(([t]) => t === "message").map(([, d]) => d.message.text), ["live-1"]);

  server.acceptConnections = false; // keep it down while the room moves on
  server.sockets[0].serverClose(1006);
  const missed = [];
  for (let i = 0; i < 230; i += 1) missed.push(server.storeExternal("r1", `missed-${i}`).text);
  server.acceptConnections = true;
  await once(client, "reconnected");
  await sleep(5);

  assert.ok(tokens.length >= 2, "getToken is asked again for the reconnect");
  const rejoin = server.frames.filter(([s, f]) => s !== server.sockets[0] && f.action === "join");
  assert.equal(rejoin.length, 1);
  const pages = server.frames.filter(([, f]) => f.action === "history");
  assert.ok(pages.length >= 2, "paged back with before cursors");
  const texts = events.filter(([t]) => t === "message").map(([, d]) => d.message.text);
  assert.deepEqual(texts, ["live-1", ...missed], "every missed message once, oldest first, nothing older");
  assert.ok(events.filter(([t]) => t === "message").slice(1).every(([, d]) => d.catch_up === true));
  client.disconnect();
});

test("an unacknowledged send is resent after the reconnect with the same client_msg_id", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  await client.connect();
  await client.join("r1");
  server.sockets[0].dropAcks = true;
  const pending = client.send("r1", "once only", { clientMsgId: "cm-1" });
  await sleep(5);
  server.sockets[0].serverClose(1006);
  const ack = await pending;
  assert.equal(ack.duplicate, true, "the server recognised the resend");
  const sends = server.frames.filter(([, f]) => f.action === "send");
  assert.equal(sends.length, 2);
  assert.deepEqual(sends.map(([, f]) => f.client_msg_id), ["cm-1", "cm-1"]);
  assert.equal(server.room("r1").messages.length, 1);
  client.disconnect();
});

test("a send made while reconnecting waits for the rejoin", async () => {
  server = new FakeServer();
  const { client } = makeClient({ reconnect: { minDelayMs: 30, maxDelayMs: 30 } });
  await client.connect();
  await client.join("r1");
  server.acceptConnections = false;
  server.sockets[0].serverClose(1006);
  await once(client, "reconnecting");
  const pending = client.send("r1", "queued");
  server.acceptConnections = true;
  const ack = await pending;
  assert.equal(ack.message.text, "queued");
  const order = server.frames.slice(1).map(([, f]) => f.action);
  assert.ok(order.indexOf("join") < order.indexOf("send"), `rejoin before send: ${order}`);
  client.disconnect();
});

test("presence follows member events by connection count", async () => {
  server = new FakeServer();
  const { client, events } = makeClient();
  await client.connect();
  await client.join("r1");
  const s = server.sockets[0];
  s.deliver({ type: "member.joined", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 1, at: "t" });
  s.deliver({ type: "member.joined", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 2, at: "t" });
  s.deliver({ type: "member.left", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 1, at: "t" });
  await sleep(5);
  assert.deepEqual(client.members("r1").map((m) => [m.user_id, m.connections]), [["me", 1], ["bob", 1]]);
  s.deliver({ type: "member.left", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 0, at: "t" });
  await sleep(5);
  assert.deepEqual(client.members("r1").map((m) => m.user_id), ["me"]);
  const presence = events.filter(([t]) => t === "presence");
  assert.equal(presence.length, 5); // join + 4 changes
  client.disconnect();
});

test("room.closed for the last room: the server's close that follows is final", async () => {
  server = new FakeServer();
  const { client, events } = makeClient();
  await client.connect();
  await client.join("r1");
  const closed = await client.close("r1");
  assert.equal(closed.type, "room.closed");
  assert.deepEqual(client.rooms, []);
  server.sockets[0].serverClose(1000, "room closed", true);
  await sleep(20);
  assert.equal(client.state, "closed");
  assert.equal(server.sockets.length, 1, "no reconnect");
  assert.equal(last(events.filter(([t]) => t === "close"))[1].willReconnect, false);
});

test("room.closed while other rooms remain: a drop still reconnects and rejoins them", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  await client.connect();
  await client.join("r1");
  await client.join("r2");
  await client.close("r1");
  server.sockets[0].serverClose(1006);
  await once(client, "reconnected");
  assert.deepEqual(client.rooms, ["r2"]);
  const rejoins = server.frames.filter(([s, f]) => s === server.sockets[1] && f.action === "join");
  assert.deepEqual(rejoins.map(([, f]) => f.room_id), ["r2"]);
  client.disconnect();
});

test("a missing pong reconnects", async () => {
  server = new FakeServer();
  const { client } = makeClient({ heartbeatMs: 10, pongTimeoutMs: 10 });
  await client.connect();
  await client.join("r1");
  server.answerPings = false;
  const reconnected = once(client, "reconnected");
  await reconnected;
  assert.ok(server.sockets.length >= 2);
  assert.equal(server.sockets[0].readyState, 3);
  server.answerPings = true;
  client.disconnect();
});

test("disconnect() is final; signal frames and unknown frames are forwarded", async () => {
  server = new FakeServer();
  const { client, events } = makeClient();
  await client.connect();
  server.sockets[0].deliver({ type: "call-invite", room_id: "r1", call_id: "c1" });
  server.sockets[0].deliver({ type: "something-new", x: 1 });
  await sleep(5);
  assert.equal(events.filter(([t]) => t === "signal").length, 1);
  assert.deepEqual(events.filter(([t]) => t === "frame").map(([, d]) => d.type), ["call-invite", "something-new"]);
  client.disconnect();
  await sleep(20);
  assert.equal(server.sockets.length, 1);
  assert.equal(client.state, "closed");
});

test("a notification is emitted once per id, in or out of any room", async () => {
  server = new FakeServer();
  const { client, events } = makeClient();
  await client.connect();
  const first = { type: "notification", notification: { id: "b1", type: "maintenance", data: { minutes: 5 }, sent_at: "t" } };
  server.sockets[0].deliver(first);
  server.sockets[0].deliver(first); // a range job delivered twice
  server.sockets[0].deliver({ type: "notification", notification: { id: "b2", type: "other", sent_at: "t" } });
  await sleep(5);
  const notes = events.filter(([t]) => t === "notification").map(([, d]) => d.notification.id);
  assert.deepEqual(notes, ["b1", "b2"]);
  assert.deepEqual(events.find(([t]) => t === "notification")[1], first);
  client.disconnect();
});

test("typing is throttled; a stop is sent once", async () => {
  server = new FakeServer();
  const { client } = makeClient({ typingThrottleMs: 1000 });
  await client.connect();
  await client.join("r1");
  assert.equal(client.typing("r1", true), true);
  assert.equal(client.typing("r1", true), false);
  assert.equal(client.typing("r1", false), true);
  assert.equal(client.typing("r1", false), false);
  client.disconnect();
});

test("first connect failure rejects with connect_failed", async () => {
  server = new FakeServer();
  server.acceptConnections = false;
  const { client } = makeClient();
  await assert.rejects(client.connect(), (e) => e.code === "connect_failed");
  assert.equal(client.state, "closed");
});

test("disconnect() during the handshake ends connect(); during a reconnect it ends the waiters", async () => {
  server = new FakeServer();
  server.acceptConnections = "hang";
  const { client, events } = makeClient();
  const connecting = client.connect();
  await sleep(5);
  client.disconnect();
  await assert.rejects(connecting, (e) => e.code === "disconnected");
  assert.equal(client.state, "closed");

  server.acceptConnections = true;
  const second = makeClient({ reconnect: { minDelayMs: 50, maxDelayMs: 50 } });
  await second.client.connect();
  server.acceptConnections = false;
  server.sockets[server.sockets.length - 1].serverClose(1006);
  await once(second.client, "reconnecting");
  const waiting = second.client.connect(); // waits for the reconnect
  second.client.disconnect();
  await assert.rejects(waiting, (e) => e.code === "connect_failed");
  assert.equal(last(second.events.filter(([t]) => t === "close"))[1].willReconnect, false);
  await sleep(80);
  assert.equal(second.client.state, "closed", "no reconnect after disconnect()");
  assert.equal(events.filter(([t]) => t === "close").length, 1);
});

test("streamed messages assemble in seq order from the join's text so far; unread follows joined and notifications", async () => {
  server = new FakeServer();
  const bot = { room_id: "r1", user_id: "bot", name: "Bot", sender_kind: "bot" };
  server.joinExtra = {
    streams: [{ ...bot, message_id: "s1", text: "ab", next_seq: 2, started_at: "t" }],
    unread: 2,
  };
  const { client, events } = makeClient();
  const streams = [];
  const unread = [];
  client.addEventListener("stream", (e) => streams.push(e.detail));
  client.addEventListener("unread", (e) => unread.push(e.detail.unread));
  await client.connect();
  await client.join("r1");
  const delta = (id, chunks) => server.sockets[0].deliver({ type: "message.delta", ...bot, message_id: id, chunks });
  delta("s1", [{ seq: 1, text: "b" }, { seq: 2, text: "c" }]); // seq 1 is already in the join's text
  delta("s1", [{ seq: 2, text: "c" }]); // a repeat
  delta("s1", [{ seq: 4, text: "e" }]); // after a gap: held
  await sleep(5); // frames arrive asynchronously
  assert.equal(client.streamText("s1"), "abc");
  delta("s1", [{ seq: 3, text: "d" }]);
  delta("s2", [{ seq: 0, text: "other " }, { seq: 1, text: "stream" }]); // first seen by its deltas
  const final = { id: "s1", room_id: "r1", user_id: "bot", name: "Bot", text: "abcde", sent_at: "t", sender_kind: "bot", streamed: true, stream_ended_by: "end" };
  server.sockets[0].deliver({ type: "message", message: final });
  server.sockets[0].deliver({ type: "message", message: final }); // a repeat of the final message
  server.sockets[0].deliver({ type: "notification", notification: { id: "n1", type: "t", sent_at: "t", user_id: "me", inbox: true } });
  server.sockets[0].deliver({ type: "notification", notification: { id: "n2", type: "t", sent_at: "t" } }); // not stored
  await sleep(5);
  const s1 = streams.filter((d) => d.message_id === "s1");
  assert.deepEqual(s1.map((d) => [d.text, d.done]), [["ab", false], ["abc", false], ["abcde", false], ["abcde", true]]);
  assert.deepEqual(streams.filter((d) => d.message_id === "s2").map((d) => d.text), ["other stream"]);
  assert.equal(client.streamText("s1"), null);
  assert.equal(client.streamText("s2"), "other stream");
  assert.equal(events.filter(([t]) => t === "message").length, 1);
  assert.deepEqual(unread, [2, 3]);
  assert.equal(client.unread, 3);
  client.disconnect();
});

// ------------------------------------------------------------------ moderation (issue 14)

test("moderator actions send their frames and resolve with the act", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  await client.connect();
  const muted = await client.mute("r1", "bob", { durationSeconds: 60, reason: "calm" });
  assert.equal(muted.type, "moderated");
  assert.deepEqual(muted.sent, { room_id: "r1", user_id: "bob", duration_seconds: 60, reason: "calm" });
  assert.deepEqual((await client.kick("r1", "bob")).sent, { room_id: "r1", user_id: "bob" });
  assert.deepEqual((await client.ban("r1", "bob")).sent, { room_id: "r1", user_id: "bob" });
  assert.equal((await client.unban("r1", "bob")).act, "unban");
  assert.equal((await client.unmute("r1", "bob")).act, "unmute");
  assert.deepEqual((await client.deleteMessage("r1", "m1")).sent, { room_id: "r1", message_id: "m1" });
  client.disconnect();
});

test("kicked: the room is dropped (not rejoined after a reconnect) and the event emitted", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  const kicked = [];
  client.addEventListener("kicked", (e) => kicked.push(e.detail));
  await client.connect();
  await client.join("r1");
  await client.join("r2");
  server.sockets[0].deliver({ type: "kicked", room_id: "r1", cause: "kick", by: "carol", at: "t" });
  await sleep(5);
  assert.deepEqual(kicked.map((k) => [k.room_id, k.cause]), [["r1", "kick"]]);
  assert.deepEqual(client.rooms, ["r2"]);
  await assert.rejects(client.send("r1", "hi"), (e) => e instanceof RoomcastError && e.code === "not_member");
  server.sockets[0].serverClose(1006);
  await once(client, "reconnected");
  const rejoins = server.frames.filter(([s, f]) => s === server.sockets[1] && f.action === "join");
  assert.deepEqual(rejoins.map(([, f]) => f.room_id), ["r2"]);
  client.disconnect();
});

test("muted, unmuted and message.deleted are emitted as received", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  const seen = [];
  for (const type of ["muted", "unmuted", "message.deleted"]) client.addEventListener(type, (e) => seen.push(e.detail.type));
  await client.connect();
  server.sockets[0].deliver({ type: "muted", room_id: "r1", by: "c", at: "t", until: "t2" });
  server.sockets[0].deliver({ type: "message.deleted", room_id: "r1", message_id: "m1", deleted_by: "c", deleted_at: "t" });
  server.sockets[0].deliver({ type: "unmuted", room_id: "r1", by: "c", at: "t" });
  await sleep(5);
  assert.deepEqual(seen, ["muted", "message.deleted", "unmuted"]);
  client.disconnect();
});

test("disconnected: the server's close that follows is final (no reconnect)", async () => {
  server = new FakeServer();
  const { client, events } = makeClient();
  const told = once(client, "disconnected");
  await client.connect();
  await client.join("r1");
  server.sockets[0].deliver({ type: "disconnected", reason: "logged out", at: "t" });
  assert.equal((await told).reason, "logged out");
  server.sockets[0].serverClose(1000, "", true);
  await sleep(20);
  assert.equal(server.sockets.length, 1, "no reconnect");
  assert.equal(client.state, "closed");
  assert.equal(last(events.filter(([t]) => t === "close"))[1].willReconnect, false);
});

test("a rejoin refused banned drops the room and tells it as a synthetic kicked", async () => {
  server = new FakeServer();
  const { client } = makeClient();
  await client.connect();
  await client.join("r1");
  await client.join("r2");
  server.room("r1").banned = true;
  const kicked = once(client, "kicked");
  server.sockets[0].serverClose(1006);
  const detail = await kicked;
  assert.deepEqual([detail.room_id, detail.cause, detail.synthetic, detail.until], ["r1", "ban", true, "t9"]);
  await sleep(10);
  assert.deepEqual(client.rooms, ["r2"]);
  client.disconnect();
});
