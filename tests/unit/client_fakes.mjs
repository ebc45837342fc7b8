// Fakes for the Node tests of the roomcast client (client/dist/, built from client/src/).
// A scripted in-memory server stands in for the gateway: it answers join/leave/send/
// history/ping/close with frames of the shapes in roomcast/models/frames.py, so the
// client's reconnect, catch-up, dedupe and resend logic is checked deterministically.
// The real thing is covered by the Chromium tests (test_chat_e2e.py); run through
// tests/unit/test_client_under_node.py.

import assert from "node:assert/strict";

import { RoomcastClient } from "../../client/dist/index.js";

export class FakeServer {
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
        if (room.gone) return socket.deliver({ type: "error", code: "room_not_found", message: "no such room", request_id: rid });
        if (room.closed) return socket.deliver({ type: "error", code: "room_closed", message: "closed", request_id: rid });
        if (room.membersOnly) return socket.deliver({ type: "error", code: "members_only", message: "members only", request_id: rid });
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
        if (room.muted) return socket.deliver({ type: "error", code: "muted", message: "you are muted in this room", request_id: rid, until: room.muted });
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

export let server;

/** A fresh server for the next test. */
export function newServer() {
  server = new FakeServer();
  return server;
}

export class FakeWebSocket {
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
      const token = this.protocols?.[1];
      if (server.refuse && server.refuse(token)) {
        // A refused handshake as Node's `ws` reports it: an error naming the status, then 1006.
        this.onerror?.({ type: "error", message: `Unexpected server response: ${server.refuse(token)}` });
        return this.serverClose(1006, "", false);
      }
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


export function makeClient(options = {}) {
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
  for (const type of ["state", "reconnected", "error", "signal", "notification", "frame", "unread", "disconnected", "unauthorized"]) {
    client.addEventListener(type, (e) => events.push([type, e.detail]));
  }
  return { client, events, tokens };
}

/** Record every event of a room as [type, detail]. */
export function record(room) {
  const events = [];
  for (const type of ["state", "joined", "message", "delta", "deleted", "presence", "typing", "muted", "unmuted", "kicked", "closed", "gap"]) {
    room.addEventListener(type, (e) => events.push([type, e.detail]));
  }
  return events;
}

export function once(target, type, predicate = () => true) {
  return new Promise((resolve) => {
    const listener = (e) => {
      if (!predicate(e.detail)) return;
      target.removeEventListener(type, listener);
      resolve(e.detail);
    };
    target.addEventListener(type, listener);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const last = (list) => list[list.length - 1];
export const of = (events, type) => events.filter(([t]) => t === type).map(([, d]) => d);
