// Unit tests of the roomcast client (client/dist/, built from client/src/) under Node's
// built-in test runner. A scripted in-memory server (client_fakes.mjs) stands in for the
// gateway: it answers join/leave/send/history/ping/close with frames of the shapes in
// roomcast/models/frames.py, so the client's reconnect, catch-up, dedupe and resend logic
// is checked deterministically. The Room state machines (kick, ban, close, unauthorized)
// are test_room_states.mjs. The real thing is covered by the Chromium tests; all of these
// run through tests/unit/test_client_under_node.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { RoomcastError } from "../../client/dist/index.js";
import { last, makeClient, newServer, of, once, record, sleep } from "./client_fakes.mjs";

const joinedIds = (client) => client.rooms.filter((r) => r.state === "joined").map((r) => r.id);

test("token travels as a subprotocol next to roomcast.v1; requests correlate", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  assert.deepEqual(server.sockets[0].protocols, ["roomcast.v1", "tok0"]);
  const room = client.room("r1");
  assert.equal(client.room("r1"), room, "one handle per id");
  const joined = await room.join();
  assert.equal(joined.type, "joined");
  assert.equal(joined.request_id, server.frames[0][1].request_id);
  const pong = await client.ping();
  assert.equal(pong.type, "pong");
  const ack = await room.send("hello");
  assert.equal(ack.message.text, "hello");
  assert.match(server.frames[2][1].client_msg_id, /^[0-9a-f-]{36}$/);
  client.disconnect();
});

test("error frames reject with the server's code; silence rejects with timeout", async () => {
  const server = newServer();
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
  const server = newServer();
  const { client, tokens } = makeClient();
  await client.connect();
  server.storeExternal("r1", "before-1");
  const room = client.room("r1");
  const events = record(room);
  await room.join();
  server.storeExternal("r1", "live-1");
  await sleep(5);
  assert.deepEqual(of(events, "message").map((d) => d.message.text), ["live-1"]);

  server.acceptConnections = false; // keep it down while the room moves on
  server.sockets[0].serverClose(1006);
  await sleep(2);
  assert.equal(room.state, "joining", "a room whose socket dropped is rejoining");
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
  const messages = of(events, "message");
  assert.deepEqual(messages.map((d) => d.message.text), ["live-1", ...missed], "every missed message once, oldest first, nothing older");
  assert.ok(messages.slice(1).every((d) => d.catchUp === true));
  assert.equal(messages[0].catchUp, false);
  assert.deepEqual(of(events, "state").map((d) => d.state), ["joining", "joined", "joining", "joined"]);
  client.disconnect();
  assert.equal(room.state, "left");
});

test("an unacknowledged send is resent after the reconnect with the same client_msg_id", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  const room = client.room("r1");
  await room.join();
  server.sockets[0].dropAcks = true;
  const pending = room.send("once only", { clientMsgId: "cm-1" });
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
  const server = newServer();
  const { client } = makeClient({ reconnect: { minDelayMs: 30, maxDelayMs: 30 } });
  await client.connect();
  const room = client.room("r1");
  await room.join();
  server.acceptConnections = false;
  server.sockets[0].serverClose(1006);
  await once(client, "state", (d) => d.state === "reconnecting");
  const pending = room.send("queued");
  server.acceptConnections = true;
  const ack = await pending;
  assert.equal(ack.message.text, "queued");
  const order = server.frames.slice(1).map(([, f]) => f.action);
  assert.ok(order.indexOf("join") < order.indexOf("send"), `rejoin before send: ${order}`);
  client.disconnect();
});

test("presence follows member events by connection count; names are remembered", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  const room = client.room("r1");
  const events = record(room);
  await room.join();
  const s = server.sockets[0];
  s.deliver({ type: "member.joined", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 1, at: "t" });
  s.deliver({ type: "member.joined", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 2, at: "t" });
  s.deliver({ type: "member.left", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 1, at: "t" });
  await sleep(5);
  assert.deepEqual(room.members.map((m) => [m.user_id, m.connections]), [["me", 1], ["bob", 1]]);
  s.deliver({ type: "member.left", room_id: "r1", user_id: "bob", name: "Bob", connection_count: 0, at: "t" });
  await sleep(5);
  assert.deepEqual(room.members.map((m) => m.user_id), ["me"]);
  const presence = of(events, "presence");
  assert.equal(presence.length, 5); // join + 4 changes
  assert.equal(presence[0].change, null);
  assert.deepEqual(presence.slice(1).map((p) => p.change.type), ["member.joined", "member.joined", "member.left", "member.left"]);
  assert.equal(room.nameOf("bob"), "Bob", "a user who left keeps a name");
  assert.equal(room.nameOf("nobody"), null);
  client.disconnect();
});

test("room.closed for the last room: the server's close that follows is final", async () => {
  const server = newServer();
  const { client, events } = makeClient();
  await client.connect();
  const room = client.room("r1");
  await room.join();
  const closed = await room.close();
  assert.equal(closed.type, "room.closed");
  assert.equal(room.state, "closed");
  assert.deepEqual(room.reason, { code: "room_closed", by: "me", at: "t" });
  assert.deepEqual(joinedIds(client), []);
  server.sockets[0].serverClose(1000, "room closed", true);
  await sleep(20);
  assert.equal(client.state, "closed");
  assert.equal(server.sockets.length, 1, "no reconnect");
  assert.equal(last(of(events, "state")).cause, "room_closed");
});

test("room.closed while other rooms remain: a drop still reconnects and rejoins them", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  await client.room("r1").join();
  await client.room("r2").join();
  await client.room("r1").close();
  server.sockets[0].serverClose(1006);
  await once(client, "reconnected");
  assert.deepEqual(joinedIds(client), ["r2"]);
  assert.equal(client.room("r1").state, "closed");
  const rejoins = server.frames.filter(([s, f]) => s === server.sockets[1] && f.action === "join");
  assert.deepEqual(rejoins.map(([, f]) => f.room_id), ["r2"]);
  client.disconnect();
});

test("a missing pong reconnects", async () => {
  const server = newServer();
  const { client } = makeClient({ heartbeatMs: 10, pongTimeoutMs: 10 });
  await client.connect();
  await client.room("r1").join();
  server.answerPings = false;
  await once(client, "reconnected");
  assert.ok(server.sockets.length >= 2);
  assert.equal(server.sockets[0].readyState, 3);
  server.answerPings = true;
  client.disconnect();
});

test("disconnect() is final; signal frames and unknown frames are forwarded", async () => {
  const server = newServer();
  const { client, events } = makeClient();
  await client.connect();
  server.sockets[0].deliver({ type: "signal", signal: "call-invite", room_id: "r1", call_id: "c1", from: { user_id: "b", name: "B" } });
  server.sockets[0].deliver({ type: "something-new", x: 1 });
  await sleep(5);
  assert.equal(of(events, "signal").length, 1);
  assert.deepEqual(of(events, "frame").map((d) => d.type), ["signal", "something-new"]);
  client.disconnect();
  await sleep(20);
  assert.equal(server.sockets.length, 1);
  assert.equal(client.state, "closed");
  assert.equal(last(of(events, "state")).cause, "disconnect");
});

test("a notification is emitted once per id, in or out of any room", async () => {
  const server = newServer();
  const { client, events } = makeClient();
  await client.connect();
  const first = { type: "notification", notification: { id: "b1", type: "maintenance", data: { minutes: 5 }, sent_at: "t" } };
  server.sockets[0].deliver(first);
  server.sockets[0].deliver(first); // a range job delivered twice
  server.sockets[0].deliver({ type: "notification", notification: { id: "b2", type: "other", sent_at: "t" } });
  await sleep(5);
  assert.deepEqual(of(events, "notification").map((d) => d.notification.id), ["b1", "b2"]);
  assert.deepEqual(of(events, "notification")[0], first);
  client.disconnect();
});

test("typing is throttled; a stop is sent once; typers expire and a message clears its sender", async () => {
  const server = newServer();
  const { client } = makeClient({ typingThrottleMs: 1000, typingTimeoutMs: 30 });
  await client.connect();
  const room = client.room("r1");
  assert.equal(room.typing(true), false, "not joined: nothing written");
  await room.join();
  assert.equal(room.typing(true), true);
  assert.equal(room.typing(true), false);
  assert.equal(room.typing(false), true);
  assert.equal(room.typing(false), false);

  const events = record(room);
  const s = server.sockets[0];
  s.deliver({ type: "typing", room_id: "r1", user_id: "bob", name: "Bob", is_typing: true });
  s.deliver({ type: "typing", room_id: "r1", user_id: "cy", name: "Cy", is_typing: true });
  await sleep(5);
  assert.deepEqual(room.typers.map((t) => t.name), ["Bob", "Cy"]);
  server.storeExternal("r1", "hi"); // from "zed": clears nobody
  s.deliver({ type: "message", message: { id: server.newId(), room_id: "r1", user_id: "bob", name: "Bob", text: "done", sent_at: "t" } });
  await sleep(5);
  assert.deepEqual(room.typers.map((t) => t.name), ["Cy"], "a message clears its sender's typing");
  await sleep(50);
  assert.deepEqual(room.typers, [], "silence ends typing");
  assert.deepEqual(of(events, "typing").map((d) => d.typers.length), [1, 2, 1, 0]);
  client.disconnect();
});

test("first connect failure rejects with connect_failed", async () => {
  const server = newServer();
  server.acceptConnections = false;
  const { client } = makeClient();
  await assert.rejects(client.connect(), (e) => e.code === "connect_failed");
  assert.equal(client.state, "closed");
});

test("disconnect() during the handshake ends connect(); during a reconnect it ends the waiters", async () => {
  const server = newServer();
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
  await once(second.client, "state", (d) => d.state === "reconnecting");
  const waiting = second.client.connect(); // waits for the reconnect
  second.client.disconnect();
  await assert.rejects(waiting, (e) => e.code === "connect_failed");
  assert.equal(last(of(second.events, "state")).state, "closed");
  await sleep(80);
  assert.equal(second.client.state, "closed", "no reconnect after disconnect()");
  assert.equal(of(events, "state").filter((d) => d.state === "closed").length, 1);
});

test("streamed messages assemble in seq order from the join's text so far; unread follows joined and notifications", async () => {
  const server = newServer();
  const bot = { room_id: "r1", user_id: "bot", name: "Bot", sender_kind: "bot" };
  server.joinExtra = {
    streams: [{ ...bot, message_id: "s1", text: "ab", next_seq: 2, started_at: "t" }],
    unread: 2,
  };
  const { client } = makeClient();
  const unread = [];
  client.on("unread", (d) => unread.push(d.unread));
  await client.connect();
  const room = client.room("r1");
  const events = record(room);
  await room.join();
  const delta = (id, chunks) => server.sockets[0].deliver({ type: "message.delta", ...bot, message_id: id, chunks });
  delta("s1", [{ seq: 1, text: "b" }, { seq: 2, text: "c" }]); // seq 1 is already in the join's text
  delta("s1", [{ seq: 2, text: "c" }]); // a repeat
  delta("s1", [{ seq: 4, text: "e" }]); // after a gap: held
  await sleep(5); // frames arrive asynchronously
  assert.equal(room.streamText("s1"), "abc");
  delta("s1", [{ seq: 3, text: "d" }]);
  delta("s2", [{ seq: 0, text: "other " }, { seq: 1, text: "stream" }]); // first seen by its deltas
  const final = { id: "s1", room_id: "r1", user_id: "bot", name: "Bot", text: "abcde", sent_at: "t", sender_kind: "bot", streamed: true, stream_ended_by: "end" };
  server.sockets[0].deliver({ type: "message", message: final });
  server.sockets[0].deliver({ type: "message", message: final }); // a repeat of the final message
  server.sockets[0].deliver({ type: "notification", notification: { id: "n1", type: "t", sent_at: "t", user_id: "me", inbox: true } });
  server.sockets[0].deliver({ type: "notification", notification: { id: "n2", type: "t", sent_at: "t" } }); // not stored
  await sleep(5);
  const deltas = of(events, "delta");
  assert.deepEqual(deltas.filter((d) => d.message_id === "s1").map((d) => [d.text, d.done]), [["ab", false], ["abc", false], ["abcde", false], ["abcde", true]]);
  assert.deepEqual(deltas.filter((d) => d.message_id === "s2").map((d) => d.text), ["other stream"]);
  assert.equal(room.streamText("s1"), null);
  assert.equal(room.streamText("s2"), "other stream");
  assert.equal(of(events, "message").length, 1);
  assert.deepEqual(unread, [2, 3]);
  assert.equal(client.unread, 3);
  client.disconnect();
});

test("moderator actions send their frames and resolve with the act", async () => {
  newServer();
  const { client } = makeClient();
  await client.connect();
  const room = client.room("r1");
  const muted = await room.mute("bob", { durationSeconds: 60, reason: "calm" });
  assert.equal(muted.type, "moderated");
  assert.deepEqual(muted.sent, { room_id: "r1", user_id: "bob", duration_seconds: 60, reason: "calm" });
  assert.deepEqual((await room.kick("bob")).sent, { room_id: "r1", user_id: "bob" });
  assert.deepEqual((await room.ban("bob")).sent, { room_id: "r1", user_id: "bob" });
  assert.equal((await room.unban("bob")).act, "unban");
  assert.equal((await room.unmute("bob")).act, "unmute");
  assert.deepEqual((await room.deleteMessage("m1")).sent, { room_id: "r1", message_id: "m1" });
  client.disconnect();
});

test("muted, unmuted and message.deleted reach the room's events; a refused send learns the mute", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  const room = client.room("r1");
  const events = record(room);
  await room.join();
  server.sockets[0].deliver({ type: "muted", room_id: "r1", by: "c", at: "t", until: "2099-01-01T00:00:00.000Z", reason: "calm" });
  server.sockets[0].deliver({ type: "message.deleted", room_id: "r1", message_id: "m1", deleted_by: "c", deleted_at: "t" });
  await sleep(5);
  assert.deepEqual(room.muted, { by: "c", reason: "calm", until: "2099-01-01T00:00:00.000Z", at: "t" });
  assert.equal(room.typing(true), false, "no typing while muted");
  server.sockets[0].deliver({ type: "unmuted", room_id: "r1", by: "c", at: "t" });
  await sleep(5);
  assert.equal(room.muted, null);
  assert.deepEqual(events.filter(([t]) => ["muted", "unmuted", "deleted"].includes(t)).map(([t]) => t), ["muted", "deleted", "unmuted"]);

  // A reload while muted: nothing says so until a send is refused; then the room knows, until when.
  server.room("r1").muted = new Date(Date.now() + 40).toISOString();
  await assert.rejects(room.send("hello?"), (e) => e.code === "muted");
  assert.equal(room.muted.until, server.room("r1").muted);
  assert.equal(last(of(events, "muted")).synthetic, true);
  await sleep(80);
  assert.equal(room.muted, null, "a mute for a while ends by itself");
  assert.equal(last(of(events, "unmuted")).synthetic, true);
  client.disconnect();
});

test("disconnected: the server's close that follows is final (no reconnect); rooms are left", async () => {
  const server = newServer();
  const { client, events } = makeClient();
  const told = once(client, "disconnected");
  await client.connect();
  const room = client.room("r1");
  await room.join();
  server.sockets[0].deliver({ type: "disconnected", reason: "logged out", at: "t" });
  assert.equal((await told).reason, "logged out");
  server.sockets[0].serverClose(1000, "", true);
  await sleep(20);
  assert.equal(server.sockets.length, 1, "no reconnect");
  assert.equal(client.state, "closed");
  assert.equal(last(of(events, "state")).cause, "disconnected");
  assert.equal(room.state, "left");
  assert.deepEqual(room.reason, { code: "disconnected" });
});
