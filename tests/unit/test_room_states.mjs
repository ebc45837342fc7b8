// The Room state machines and the errors that stop the reconnect loop, under Node's test
// runner against the fake socket of client_fakes.mjs: kick, ban, close, refusals on a
// rejoin (banned, members_only, room_not_found end in that state, not in a retry), and
// unauthorized (a handshake refused 401/403 twice, or getToken() throwing). Run through
// tests/unit/test_client_under_node.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { RoomcastError, UnauthorizedError } from "../../client/dist/index.js";
import { last, makeClient, newServer, of, once, record, sleep } from "./client_fakes.mjs";

const states = (events) => of(events, "state").map((d) => d.state);

test("kick: joined -> kicked with who and why; sends fail; not rejoined; join() again is allowed", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  const room = client.room("r1");
  const other = client.room("r2");
  const events = record(room);
  await room.join();
  await other.join();
  server.sockets[0].deliver({ type: "kicked", room_id: "r1", cause: "kick", by: "carol", reason: "spam", at: "t" });
  await sleep(5);
  assert.equal(room.state, "kicked");
  assert.deepEqual(room.reason, { code: "kick", by: "carol", message: "spam", at: "t" });
  assert.deepEqual(of(events, "kicked").map((k) => [k.cause, k.by]), [["kick", "carol"]]);
  assert.deepEqual(room.members, [], "no member list once out");
  await assert.rejects(room.send("hi"), (e) => e instanceof RoomcastError && e.code === "not_member");

  server.sockets[0].serverClose(1006);
  await once(client, "reconnected");
  const rejoins = server.frames.filter(([s, f]) => s === server.sockets[1] && f.action === "join");
  assert.deepEqual(rejoins.map(([, f]) => f.room_id), ["r2"], "a kicked room is not rejoined");
  assert.equal(room.state, "kicked");

  await room.join(); // a kick is not a ban
  assert.equal(room.state, "joined");
  assert.equal(room.reason, null);
  assert.deepEqual(states(events), ["joining", "joined", "kicked", "joining", "joined"]);
  client.disconnect();
});

test("ban: joined -> banned until; a join is refused and stays banned; after the unban it joins", async () => {
  const server = newServer();
  const { client } = makeClient();
  await client.connect();
  const room = client.room("r1");
  const events = record(room);
  await room.join();
  const pending = room.send("in flight", { clientMsgId: "c1" });
  server.sockets[0].deliver({ type: "kicked", room_id: "r1", cause: "ban", by: "carol", until: "t9", at: "t" });
  await assert.rejects(pending, (e) => e.code === "banned", "a send caught by the ban fails, not resent");
  assert.equal(room.state, "banned");
  assert.equal(room.reason.until, "t9");

  server.room("r1").banned = true;
  await assert.rejects(room.join(), (e) => e.code === "banned");
  assert.equal(room.state, "banned", "a refused join leaves it banned");
  assert.equal(room.reason.until, "t9");
  server.room("r1").banned = false; // a moderator unbans
  await room.join();
  assert.equal(room.state, "joined");
  assert.deepEqual(states(events), ["joining", "joined", "banned", "joining", "banned", "joining", "joined"]);
  client.disconnect();
});

test("close: joined -> closed; a send waiting for a reconnect fails room_closed; a join finds it closed", async () => {
  const server = newServer();
  const { client } = makeClient({ reconnect: { minDelayMs: 40, maxDelayMs: 40 } });
  await client.connect();
  const room = client.room("r1");
  await client.room("r2").join(); // another room keeps the connection worth reconnecting
  const events = record(room);
  await room.join();
  server.acceptConnections = false;
  server.sockets[0].serverClose(1006);
  await once(client, "state", (d) => d.state === "reconnecting");
  const queued = room.send("written while away");
  server.room("r1").closed = true; // closed while we were away
  server.acceptConnections = true;
  await assert.rejects(queued, (e) => e.code === "room_closed");
  assert.equal(room.state, "closed");
  assert.deepEqual(room.reason, { code: "room_closed", message: "closed" });
  const closed = last(of(events, "closed"));
  assert.deepEqual([closed.synthetic, closed.reason], [true, "room_closed"]);

  await assert.rejects(room.join(), (e) => e.code === "room_closed");
  assert.equal(room.state, "closed");
  assert.equal(client.room("r2").state, "joined");
  client.disconnect();
});

test("a rejoin refused banned, members_only or room_not_found ends in that state, never in a retry", async () => {
  const server = newServer();
  const { client, events } = makeClient();
  await client.connect();
  const ids = ["banned", "listed", "gone", "fine"];
  const rooms = Object.fromEntries(ids.map((id) => [id, client.room(id)]));
  const roomEvents = Object.fromEntries(ids.map((id) => [id, record(rooms[id])]));
  for (const id of ids) await rooms[id].join();
  server.room("banned").banned = true;
  server.room("listed").membersOnly = true;
  server.room("gone").gone = true;

  for (let drop = 0; drop < 3; drop += 1) {
    last(server.sockets).serverClose(1006);
    await once(client, "reconnected");
  }
  assert.deepEqual(ids.map((id) => rooms[id].state), ["banned", "kicked", "closed", "joined"]);
  assert.deepEqual(ids.map((id) => rooms[id].reason?.code ?? null), ["banned", "members_only", "room_not_found", null]);
  assert.equal(rooms.banned.reason.until, "t9");
  const kicked = of(roomEvents.banned, "kicked")[0];
  assert.deepEqual([kicked.cause, kicked.synthetic, kicked.until], ["ban", true, "t9"]);
  assert.equal(of(roomEvents.listed, "kicked")[0].cause, "removed");
  assert.deepEqual(of(roomEvents.gone, "closed").map((c) => [c.synthetic, c.reason]), [[true, "room_not_found"]]);
  const joinsOf = (id) => server.frames.filter(([, f]) => f.action === "join" && f.room_id === id).length;
  assert.deepEqual(ids.map(joinsOf), [2, 2, 2, 4], "each refused room asked once after the first drop, then left alone");
  assert.equal(of(events, "unauthorized").length, 0);
  client.disconnect();
});

test("unauthorized at connect: refused 401, getToken asked once more, refused again -> stop and tell", async () => {
  const server = newServer();
  server.refuse = () => 401;
  const { client, events, tokens } = makeClient();
  const room = client.room("r1");
  await assert.rejects(client.connect(), (e) => e instanceof UnauthorizedError && e.code === "unauthorized" && e.status === 401);
  assert.equal(client.state, "closed");
  assert.deepEqual(tokens, ["tok0", "tok1"], "one more fresh token, not more");
  assert.deepEqual(of(events, "unauthorized"), [{ status: 401, message: "the handshake was refused with 401" }]);
  assert.equal(last(of(events, "state")).cause, "unauthorized");
  await sleep(30);
  assert.equal(server.sockets.length, 2, "no reconnect loop");
  assert.equal(room.state, "left");
});

test("unauthorized on a reconnect: 403 twice ends the loop at once; joined rooms are left with the reason", async () => {
  const server = newServer();
  const { client, events, tokens } = makeClient({ reconnect: { minDelayMs: 1, maxDelayMs: 1 } });
  await client.connect();
  const room = client.room("r1");
  const roomEvents = record(room);
  await room.join();
  server.refuse = () => 403; // the user was blocked: every handshake is refused now
  const told = once(client, "unauthorized");
  server.sockets[0].serverClose(1006);
  assert.deepEqual(await told, { status: 403, message: "the handshake was refused with 403" });
  assert.equal(client.state, "closed");
  assert.equal(tokens.length, 3, "the first connect, then two tries with fresh tokens");
  assert.equal(of(events, "state").filter((d) => d.state === "reconnecting").length, 1, "the second try is not a backoff round");
  assert.equal(room.state, "left");
  assert.deepEqual(room.reason, { code: "unauthorized" });
  assert.deepEqual(states(roomEvents), ["joining", "joined", "joining", "left"]);
  await sleep(30);
  assert.equal(server.sockets.length, 3, "nothing after it");
  await assert.rejects(room.send("hello"), (e) => e.code === "not_member");
});

test("one refusal then a good token: reconnects as usual (a token that expired is not unauthorized)", async () => {
  const server = newServer();
  const { client, events, tokens } = makeClient();
  await client.connect();
  const room = client.room("r1");
  await room.join();
  server.refuse = (token) => (token === "tok1" ? 401 : null); // the next token is stale, the one after fine
  server.sockets[0].serverClose(1006);
  await once(client, "reconnected");
  assert.deepEqual(tokens, ["tok0", "tok1", "tok2"]);
  assert.equal(client.state, "open");
  assert.equal(room.state, "joined");
  assert.equal(of(events, "unauthorized").length, 0);
  // ...and the next refusal starts from scratch: one refusal is never enough.
  server.refuse = (token) => (token === "tok3" ? 401 : null);
  last(server.sockets).serverClose(1006);
  await once(client, "reconnected");
  assert.equal(of(events, "unauthorized").length, 0);
  client.disconnect();
});

test("getToken() throwing UnauthorizedError stops at once, with its status; other getToken failures retry", async () => {
  newServer();
  let calls = 0;
  const { client, events } = makeClient({
    getToken: async () => {
      calls += 1;
      throw new UnauthorizedError("the backend says no", 403);
    },
  });
  await assert.rejects(client.connect(), (e) => e instanceof UnauthorizedError && e.status === 403);
  assert.equal(calls, 1);
  assert.deepEqual(of(events, "unauthorized"), [{ status: 403, message: "the backend says no" }]);

  // A backend that is down (a network error) is not a refusal: the loop goes on.
  const server = newServer();
  let down = false;
  let fetched = 0;
  const second = makeClient({
    getToken: async () => {
      fetched += 1;
      if (down) throw new TypeError("Failed to fetch");
      return "tok";
    },
  });
  await second.client.connect();
  down = true;
  server.sockets[0].serverClose(1006);
  await sleep(60);
  assert.equal(second.client.state, "reconnecting");
  assert.ok(fetched >= 3, `kept trying (${fetched})`);
  assert.equal(of(second.events, "unauthorized").length, 0);
  assert.ok(of(second.events, "error").length >= 2, "each failed attempt is reported");
  down = false;
  await once(second.client, "state", (d) => d.state === "open");
  second.client.disconnect();
});

test("a refusal with no status (what browsers see) keeps the backoff going: the server may just be down", async () => {
  const server = newServer();
  const { client, events } = makeClient();
  await client.connect();
  await client.room("r1").join();
  server.acceptConnections = false;
  server.sockets[0].serverClose(1006);
  await sleep(60);
  const attempts = of(events, "state").filter((d) => d.state === "reconnecting");
  assert.ok(attempts.length >= 3, `attempts: ${attempts.length}`);
  assert.deepEqual(attempts.map((d) => d.attempt).slice(0, 3), [1, 2, 3]);
  assert.equal(of(events, "unauthorized").length, 0);
  server.acceptConnections = true;
  await once(client, "reconnected");
  assert.equal(client.room("r1").state, "joined");
  client.disconnect();
});
