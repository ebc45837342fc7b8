// roomcast demo page: a lobby of open rooms, create, join, invite a second user, chat
// (with each message's sending / acknowledged / failed state and a resend), older
// history, presence, typing, a dropped connection and its catch-up, close as admin.
//
// It talks to the local runtime's admin API directly with the key from /config.json.
// That is a local-only shortcut: in production the admin API key never reaches a
// browser; your backend creates rooms and mints connect tokens.
//
// Identity: each tab keeps its user in sessionStorage (a reload rejoins as the same
// user). The address only ever holds ?room=<id>, which is also the invite link: opened
// in another browser or window, it asks for a display name and joins as a new user, so
// the inviter's identity never travels in a link.
//
// URL parameters: ?room=<id> (an invite: join once named; a tab with an identity rejoins
// at once). Scripts and tests may add &user=<id>&name=<display name> to join as that user
// at once (autojoin=0 only prefills). Tests rely on the element ids and data-testid
// attributes in index.html, and on window.roomcastDemo.

import { RoomcastClient, RoomcastError } from "../roomcast.js";

/** @typedef {{ws_url: string, admin_api_url: string, admin_key?: string}} DemoConfig */

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const TYPING_EXPIRES_MS = 6_000;
// "Load older" pages: the join reply carries the newest 50; each click adds this many.
const OLDER_PAGE = 25;
const LOBBY_REFRESH_MS = 5_000;
const IDENTITY_KEY = "roomcast-demo:identity";

const ui = {
  status: $("status"),
  setupPanel: $("setup-panel"),
  setupError: $("setup-error"),
  inviteBanner: $("invite-banner"),
  lobbyRooms: $("lobby-rooms"),
  lobbyEmpty: $("lobby-empty"),
  lobbyRefresh: $("lobby-refresh"),
  userId: $("user-id"),
  userName: $("user-name"),
  createForm: $("create-form"),
  newRoomName: $("new-room-name"),
  joinForm: $("join-form"),
  roomId: $("room-id"),
  roomPanel: $("room-panel"),
  roomTitle: $("room-title"),
  roomIdLabel: $("room-id-label"),
  meLabel: $("me-label"),
  copyLink: $("copy-link"),
  inviteLink: $("invite-link"),
  drop: $("drop-connection"),
  leave: $("leave-room"),
  closeRoom: $("close-room"),
  roomClosed: $("room-closed"),
  messages: $("messages"),
  loadOlder: $("load-older"),
  historyStart: $("history-start"),
  typing: $("typing-indicator"),
  sendForm: $("send-form"),
  input: $("message-input"),
  sendButton: $("send-button"),
  members: $("members"),
  memberCount: $("member-count"),
  membersLabel: $("members-label"),
  log: $("log"),
  logPanel: $("log-panel"),
};

/** @type {{config: DemoConfig | null, client: RoomcastClient | null, roomId: string | null,
 *   user: {user_id: string, name: string} | null, typers: Map<string, {name: string, timer: any}>,
 *   rendered: Map<string, HTMLElement>, olderCursor: string | null, closed: boolean,
 *   caughtUp: number | null, lobbyTimer: any}} */
const state = {
  config: null,
  client: null,
  roomId: null,
  user: null,
  typers: new Map(),
  rendered: new Map(), // message id or client_msg_id -> <li>
  olderCursor: null, // next_cursor of the oldest page shown
  closed: false, // the shown room was closed: nothing stays live
  caughtUp: null, // messages caught up since a drop (null: no drop under way)
  lobbyTimer: null,
};

// ------------------------------------------------------------------ identity (per tab)

/** @returns {{user_id: string, name: string} | null} */
function savedIdentity() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(IDENTITY_KEY) ?? "null");
    return saved && typeof saved.user_id === "string" ? saved : null;
  } catch {
    return null;
  }
}

/** @param {{user_id: string, name: string}} user */
function saveIdentity(user) {
  try {
    sessionStorage.setItem(IDENTITY_KEY, JSON.stringify(user));
  } catch {
    // storage disabled: the tab just forgets its identity on reload
  }
}

function newUserId() {
  return `user-${Math.random().toString(36).slice(2, 8)}`;
}

/** The invite link: the room only; whoever opens it chooses who they are. */
function inviteLink(roomId) {
  return `${location.origin}${location.pathname}?${new URLSearchParams({ room: roomId })}`;
}

// ------------------------------------------------------------------ admin API (local only)

async function config() {
  if (!state.config) {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`GET /config.json answered ${response.status}`);
    state.config = await response.json();
  }
  return /** @type {DemoConfig} */ (state.config);
}

/** @param {string} method @param {string} path @param {any} [body] */
async function adminApi(method, path, body) {
  const cfg = await config();
  const response = await fetch(cfg.admin_api_url.replace(/\/$/, "") + path, {
    method,
    headers: { "content-type": "application/json", "x-api-key": cfg.admin_key ?? "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new RoomcastError(data.code ?? `http_${response.status}`, data.message ?? response.statusText);
  }
  return data;
}

/** @param {{user_id: string, name: string}} user @param {string} roomId */
async function mintToken(user, roomId) {
  // Scoped to this one room: the token cannot be used to join any other.
  const data = await adminApi("POST", "/tokens", { user_id: user.user_id, name: user.name, rooms: [roomId] });
  return /** @type {string} */ (data.token);
}

// ------------------------------------------------------------------ joining

function readUser() {
  const userId = ui.userId.value.trim();
  if (!/^[A-Za-z0-9_.@:-]{1,128}$/.test(userId)) {
    throw new RoomcastError("invalid_argument", "User id: 1-128 letters, digits or _ . @ : -");
  }
  return { user_id: userId, name: ui.userName.value.trim() || userId };
}

async function createAndJoin() {
  const user = readUser();
  const name = ui.newRoomName.value.trim() || `${user.name}'s room`;
  const room = await adminApi("POST", "/rooms", { name, admin_user_ids: [user.user_id] });
  log(`created room ${room.room_id}`);
  ui.roomId.value = room.room_id;
  await join(room.room_id, user);
}

/** @param {string} roomId @param {{user_id: string, name: string}} user */
async function join(roomId, user) {
  const cfg = await config();
  if (state.client) state.client.disconnect();
  const client = new RoomcastClient({
    url: cfg.ws_url,
    // A fresh token for every (re)connect: tokens expire, sockets live up to 2 hours.
    getToken: () => mintToken(user, roomId),
    reconnect: { minDelayMs: 250, maxDelayMs: 4_000 },
  });
  state.client = client;
  wire(client);
  setStatus("connecting", "Connecting…");
  /** @type {any} */
  let joined;
  try {
    await client.connect();
    joined = await client.join(roomId);
  } catch (error) {
    client.disconnect();
    if (state.client === client) state.client = null;
    throw error;
  }
  state.roomId = roomId;
  state.user = user;
  state.closed = false;
  saveIdentity(user);
  stopLobby();
  showRoom(joined, user);
  // The room only: copying the address is inviting someone, never handing over who you are.
  history.replaceState(null, "", `?${new URLSearchParams({ room: roomId })}`);
  void loadRoomView(roomId, user);
  const detail = { client, roomId, user, config: cfg, joined };
  /** @type {any} */ (window).roomcastDemo = detail;
  window.dispatchEvent(new CustomEvent("roomcast-demo:joined", { detail }));
}

/** Learn whether this user may close the room (admins = the room's admin_user_ids). */
async function loadRoomView(roomId, user) {
  try {
    const view = await adminApi("GET", `/rooms/${encodeURIComponent(roomId)}`);
    const admin = (view.admin_user_ids ?? []).includes(user.user_id);
    ui.closeRoom.hidden = !admin || view.state !== "open";
    ui.roomPanel.dataset.admin = String(admin);
  } catch (error) {
    log(`room view: ${describe(error)}`);
  }
}

/** @param {RoomcastClient} client */
function wire(client) {
  const on = (/** @type {string} */ type, /** @type {(detail: any) => void} */ fn) =>
    client.addEventListener(type, (event) => {
      if (state.client === client) fn(/** @type {CustomEvent} */ (event).detail);
    });
  on("open", (d) => setStatus("open", d.reconnect ? "Connected (reconnected)" : "Connected"));
  on("close", (d) => {
    log(`socket closed ${d.code}${d.reason ? ` (${d.reason})` : ""}`);
    if (!d.willReconnect) setStatus("closed", "Disconnected");
  });
  on("reconnecting", (d) => {
    setStatus("reconnecting", `Reconnecting (attempt ${d.attempt})…`);
    log(`reconnecting: attempt ${d.attempt} in ${d.delayMs} ms (backoff with jitter)`);
  });
  on("reconnected", (d) => {
    log(`reconnected after ${d.attempts} attempt(s); rejoined ${d.rooms.join(", ") || "no rooms"}`);
    if (state.caughtUp !== null) {
      const count = state.caughtUp;
      state.caughtUp = null;
      log(`caught up ${count} message(s) through history`);
      systemLine(`Reconnected after ${d.attempts} attempt(s) and rejoined; caught up ${count} message${count === 1 ? "" : "s"}.`, false, "reconnect-note");
    }
  });
  on("message", (d) => {
    if (d.message.room_id !== state.roomId) return;
    const known = state.rendered.has(d.message.id);
    renderMessage(d.message, { catchUp: Boolean(d.catch_up) });
    if (d.catch_up && !known && state.caughtUp !== null) state.caughtUp += 1;
    clearTyper(d.message.user_id);
  });
  on("presence", (d) => d.room_id === state.roomId && !state.closed && renderMembers(d.members));
  on("member.joined", (d) => log(`${d.name} joined`));
  on("member.left", (d) => log(`${d.name} left`));
  on("typing", (d) => d.room_id === state.roomId && onTyping(d));
  on("room.closed", (d) => d.room_id === state.roomId && onRoomClosed(d));
  on("gap", (d) => systemLine(`Some older messages could not be loaded (${d.reason}).`));
  on("error", (d) => log(`error: ${describe(d.error)}`));
  on("frame", (d) => log(`← ${d.type}`));
}

// ------------------------------------------------------------------ rendering

/** @param {string} kind @param {string} text */
function setStatus(kind, text) {
  ui.status.dataset.state = kind;
  ui.status.textContent = text;
}

/** @param {any} joined @param {{user_id: string, name: string}} user */
function showRoom(joined, user) {
  ui.setupPanel.hidden = true;
  ui.roomPanel.hidden = false;
  ui.roomPanel.dataset.roomState = joined.room.state;
  ui.roomTitle.textContent = joined.room.name;
  ui.roomIdLabel.textContent = joined.room.room_id;
  ui.meLabel.textContent = `${user.name} (${user.user_id})`;
  ui.roomClosed.hidden = true;
  ui.messages.replaceChildren();
  state.rendered.clear();
  for (const message of joined.history.messages) renderMessage(message, {});
  setOlderCursor(joined.history.next_cursor ?? null);
  ui.inviteLink.value = inviteLink(joined.room.room_id);
  ui.membersLabel.textContent = "In the room";
  ui.leave.textContent = "Leave";
  renderMembers(joined.members);
  setLiveControls(joined.room.state === "open");
  ui.input.focus();
}

/**
 * @param {any} message
 * @param {{pending?: boolean, catchUp?: boolean, before?: Node | null}} options
 *   before: insert above this node (older history) instead of at the end
 */
function renderMessage(message, options) {
  const key = message.id ?? message.client_msg_id;
  if (state.rendered.has(key)) return state.rendered.get(key);
  // Our own message coming back (e.g. through history): reuse the optimistic line.
  if (message.client_msg_id && state.rendered.has(message.client_msg_id)) {
    const li = state.rendered.get(message.client_msg_id);
    confirmMessage(li, message);
    return li;
  }
  const li = document.createElement("li");
  li.dataset.testid = "message";
  li.dataset.userId = message.user_id;
  li.dataset.mine = String(message.user_id === state.user?.user_id);
  if (message.id) li.dataset.messageId = message.id;
  if (message.client_msg_id) li.dataset.clientMsgId = message.client_msg_id;
  // Server-side messages (system, bot) and finished streams (server-messaging.js sends them).
  if (message.sender_kind) li.dataset.senderKind = message.sender_kind;
  if (message.streamed) li.dataset.streamed = "true";
  if (options.catchUp) li.dataset.catchUp = "true";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.name;
  const text = document.createElement("span");
  text.className = "text";
  text.dataset.testid = "message-text";
  text.textContent = message.text;
  // A tombstone from history (moderation-ui.js turns live deletions into the same).
  if (message.deleted) {
    li.dataset.deleted = "true";
    text.textContent = `(deleted by ${message.deleted_by ?? "a moderator"})`;
  }
  const when = document.createElement("time");
  when.className = "when";
  if (message.sent_at) {
    when.dateTime = message.sent_at;
    when.textContent = new Date(message.sent_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  const status = document.createElement("span");
  status.className = "state";
  status.dataset.testid = "message-state";
  li.append(who, text, when, status);
  setMessageState(li, options.pending ? "pending" : "sent");
  // Lines still sending stay below what the room has stored (e.g. what a catch-up brings in).
  const firstPending = options.pending ? null : ui.messages.querySelector('li[data-state="pending"]');
  if (options.before !== undefined || firstPending) {
    ui.messages.insertBefore(li, options.before !== undefined ? options.before : firstPending);
  } else {
    ui.messages.append(li);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }
  state.rendered.set(key, li);
  return li;
}

const STATE_LABELS = { pending: "sending…", sent: "✓ acknowledged", failed: "failed" };

/**
 * Our own lines show their state: sending (written, no ack yet), acknowledged (the server
 * stored it), failed (with a resend under the same client_msg_id, so it is stored once).
 * @param {HTMLElement} li @param {"pending" | "sent" | "failed"} value @param {string} [why]
 */
function setMessageState(li, value, why) {
  li.dataset.state = value;
  const status = /** @type {HTMLElement} */ (li.querySelector(".state"));
  status.replaceChildren();
  if (li.dataset.mine !== "true") return; // others' messages are stored by definition
  status.append(STATE_LABELS[value]);
  // Why it failed, on the line itself (a hover shows it; tests read it).
  li.title = status.title = why ?? "";
  if (value === "failed") {
    const resend = document.createElement("button");
    resend.type = "button";
    resend.className = "resend";
    resend.dataset.testid = "resend";
    resend.textContent = "Resend";
    resend.disabled = state.closed;
    resend.addEventListener("click", () => void deliver(li));
    status.append(" ", resend);
  }
}

/** @param {HTMLElement} li @param {any} message */
function confirmMessage(li, message) {
  setMessageState(li, "sent");
  li.dataset.messageId = message.id;
  state.rendered.set(message.id, li);
  const when = /** @type {HTMLTimeElement} */ (li.querySelector("time"));
  when.dateTime = message.sent_at;
  when.textContent = new Date(message.sent_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** @param {string} text @param {boolean} [muted] @param {string} [testid] */
function systemLine(text, muted = false, testid = "system-message") {
  const li = document.createElement("li");
  li.className = "system";
  li.dataset.testid = testid;
  if (muted) li.classList.add("muted");
  li.textContent = text;
  ui.messages.append(li);
}

/** @param {any[]} members */
function renderMembers(members) {
  ui.members.replaceChildren(
    ...members.map((m) => {
      const li = document.createElement("li");
      li.dataset.testid = "member";
      li.dataset.userId = m.user_id;
      const you = m.user_id === state.user?.user_id ? " (you)" : "";
      const tabs = m.connections > 1 ? ` · ${m.connections} tabs` : "";
      li.textContent = `${m.name}${you}${tabs}`;
      return li;
    }),
  );
  ui.memberCount.textContent = String(members.length);
}

/** @param {any} frame */
function onTyping(frame) {
  if (frame.user_id === state.user?.user_id) return; // our other tabs
  clearTyper(frame.user_id);
  if (frame.is_typing) {
    // The sender repeats "typing" while typing; silence means it stopped.
    const timer = setTimeout(() => clearTyper(frame.user_id), TYPING_EXPIRES_MS);
    state.typers.set(frame.user_id, { name: frame.name, timer });
  }
  renderTyping();
}

/** @param {string} userId */
function clearTyper(userId) {
  const typer = state.typers.get(userId);
  if (!typer) return;
  clearTimeout(typer.timer);
  state.typers.delete(userId);
  renderTyping();
}

function renderTyping() {
  const names = [...state.typers.values()].map((t) => t.name);
  ui.typing.dataset.users = [...state.typers.keys()].join(" ");
  ui.typing.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
}

/** @param {any} frame */
function onRoomClosed(frame) {
  const by = frame.closed_by ? ` by ${frame.closed_by}` : "";
  ui.roomClosed.textContent = `This room was closed${by}. Its record goes to the owner's webhook.`;
  ui.roomClosed.hidden = false;
  ui.roomPanel.dataset.roomState = "closed";
  ui.closeRoom.hidden = true;
  state.closed = true;
  setLiveControls(false);
  for (const userId of [...state.typers.keys()]) clearTyper(userId);
  renderMembers([]);
  ui.membersLabel.textContent = "Room closed: nobody is here";
  ui.leave.textContent = "Back to the lobby";
  for (const button of ui.messages.querySelectorAll("button.resend")) button.disabled = true;
  window.dispatchEvent(new CustomEvent("roomcast-demo:closed", { detail: { roomId: frame.room_id } }));
}

/** What only makes sense in a live room: composing, inviting, dropping the socket, paging. */
function setLiveControls(live) {
  ui.input.disabled = !live;
  ui.sendButton.disabled = !live;
  ui.copyLink.disabled = !live;
  ui.inviteLink.disabled = !live;
  ui.drop.disabled = !live;
  ui.loadOlder.disabled = !live;
}

/** @param {string | null} cursor */
function setOlderCursor(cursor) {
  state.olderCursor = cursor;
  ui.loadOlder.hidden = cursor === null;
  ui.historyStart.hidden = cursor !== null;
}

/** @param {string} text */
function log(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  ui.log.append(li);
  while (ui.log.childElementCount > 300) ui.log.firstElementChild?.remove();
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof RoomcastError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** @param {unknown} error */
function showSetupError(error) {
  ui.setupError.textContent = describe(error);
  setStatus(state.client?.state === "open" ? "open" : "closed", state.client?.state === "open" ? "Connected" : "Not connected");
}

// ------------------------------------------------------------------ actions

async function sendMessage() {
  const client = state.client;
  const roomId = state.roomId;
  const text = ui.input.value;
  if (!client || !roomId || !text.trim()) return;
  ui.input.value = "";
  client.typing(roomId, false);
  // Optimistic line keyed by client_msg_id; the ack fills in the server's id and time.
  const clientMsgId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  const li = renderMessage(
    { client_msg_id: clientMsgId, user_id: state.user?.user_id, name: state.user?.name, text },
    { pending: true },
  );
  await deliver(li);
}

/** Send (or resend) one line; a resend keeps its client_msg_id, so the room stores it once. @param {HTMLElement} li */
async function deliver(li) {
  const client = state.client;
  const roomId = state.roomId;
  const clientMsgId = li.dataset.clientMsgId;
  const text = li.querySelector(".text")?.textContent ?? "";
  if (!client || !roomId || !clientMsgId || state.closed) return;
  setMessageState(li, "pending");
  try {
    const ack = await client.send(roomId, text, { clientMsgId });
    confirmMessage(li, ack.message);
    if (ack.duplicate) log(`resend of ${clientMsgId}: already stored, not shown twice`);
  } catch (error) {
    setMessageState(li, "failed", describe(error));
    log(`send failed: ${describe(error)}`);
  }
}

async function loadOlder() {
  const client = state.client;
  const roomId = state.roomId;
  if (!client || !roomId || !state.olderCursor) return;
  ui.loadOlder.disabled = true;
  try {
    const page = await client.history(roomId, { before: state.olderCursor, limit: OLDER_PAGE });
    // Oldest first: each goes above what was the top line, so the page keeps its order.
    const top = ui.messages.firstChild;
    const keep = ui.messages.scrollHeight - ui.messages.scrollTop;
    for (const message of page.messages) renderMessage(message, { before: top });
    ui.messages.scrollTop = ui.messages.scrollHeight - keep;
    setOlderCursor(page.next_cursor ?? null);
    log(`loaded ${page.messages.length} older message(s)${page.next_cursor ? "" : "; that is the start"}`);
  } catch (error) {
    systemLine(`Could not load older messages: ${describe(error)}`);
  } finally {
    ui.loadOlder.disabled = state.closed;
  }
}

/** Cut the socket as a network drop would (no leave): the client reconnects, rejoins, catches up. */
function dropConnection() {
  const socket = state.client?.socket;
  if (!socket) return;
  showConsole();
  state.caughtUp = 0;
  log("dropping the connection (as a network drop would)");
  socket.close(4000, "demo: connection dropped");
}

function showConsole() {
  ui.logPanel.open = true;
  document.body.classList.add("console-beside");
}

// ------------------------------------------------------------------ lobby

async function loadLobby() {
  try {
    // The 100 newest rooms, open ones shown (GET /rooms pages newest first).
    const page = await adminApi("GET", "/rooms?limit=100");
    const open = page.rooms.filter((/** @type {any} */ r) => r.state === "open");
    ui.lobbyRooms.replaceChildren(...open.map(lobbyEntry));
    ui.lobbyEmpty.hidden = open.length > 0;
  } catch (error) {
    ui.lobbyEmpty.hidden = false;
    ui.lobbyEmpty.textContent = `Could not list rooms: ${describe(error)}`;
  }
}

/** @param {any} room */
function lobbyEntry(room) {
  const li = document.createElement("li");
  li.dataset.testid = "lobby-room";
  li.dataset.roomId = room.room_id;
  const name = document.createElement("strong");
  name.textContent = room.name;
  const users = room.stats?.current_users ?? 0;
  const detail = document.createElement("span");
  detail.className = "muted";
  detail.dataset.testid = "lobby-room-detail";
  detail.textContent = ` · ${users} ${users === 1 ? "person" : "people"} here · created ${new Date(room.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.testid = "lobby-join";
  button.textContent = "Join";
  button.addEventListener("click", () => {
    ui.setupError.textContent = "";
    Promise.resolve()
      .then(() => join(room.room_id, readUser()))
      .catch(showSetupError);
  });
  li.append(name, detail, " ", button);
  return li;
}

function startLobby() {
  stopLobby();
  void loadLobby();
  state.lobbyTimer = setInterval(() => void loadLobby(), LOBBY_REFRESH_MS);
}

function stopLobby() {
  if (state.lobbyTimer) clearInterval(state.lobbyTimer);
  state.lobbyTimer = null;
}

/** Opened from an invite link by a tab with no identity yet: name yourself, then join. @param {string} roomId */
async function showInvite(roomId) {
  ui.roomId.value = roomId;
  ui.inviteBanner.hidden = false;
  ui.inviteBanner.textContent = "You were invited to a room. Choose a display name, then press Join.";
  ui.userName.focus();
  try {
    const room = await adminApi("GET", `/rooms/${encodeURIComponent(roomId)}`);
    ui.inviteBanner.textContent =
      room.state === "open"
        ? `You were invited to “${room.name}”. Choose a display name, then press Join.`
        : `The room “${room.name}” you were invited to is closed.`;
  } catch (error) {
    ui.inviteBanner.textContent = `The invite's room: ${describe(error)}`;
  }
}

async function closeRoom() {
  const client = state.client;
  if (!client || !state.roomId) return;
  ui.closeRoom.disabled = true;
  try {
    await client.close(state.roomId);
  } catch (error) {
    ui.closeRoom.disabled = false;
    systemLine(`Could not close the room: ${describe(error)}`);
  }
}

async function leaveRoom() {
  const client = state.client;
  if (client && state.roomId && client.rooms.includes(state.roomId)) {
    await client.leave(state.roomId).catch((error) => log(`leave: ${describe(error)}`));
  }
  client?.disconnect();
  const roomId = state.roomId;
  state.client = null;
  state.roomId = null;
  /** @type {any} */ (window).roomcastDemo = null;
  window.dispatchEvent(new CustomEvent("roomcast-demo:left", { detail: { roomId } }));
  ui.roomPanel.hidden = true;
  ui.setupPanel.hidden = false;
  ui.inviteBanner.hidden = true;
  setStatus("idle", "Not connected");
  history.replaceState(null, "", location.pathname);
  startLobby();
}

// ------------------------------------------------------------------ start

function start() {
  const params = new URLSearchParams(location.search);
  const saved = savedIdentity();
  const explicit = params.get("user");
  ui.userId.value = explicit ?? saved?.user_id ?? newUserId();
  ui.userName.value = params.get("name") ?? (explicit ? "" : saved?.name ?? "");
  ui.roomId.value = params.get("room") ?? "";

  ui.createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    ui.setupError.textContent = "";
    createAndJoin().catch(showSetupError);
  });
  ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    ui.setupError.textContent = "";
    Promise.resolve()
      .then(() => join(ui.roomId.value.trim(), readUser()))
      .catch(showSetupError);
  });
  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void sendMessage();
  });
  ui.input.addEventListener("input", () => {
    if (state.client && state.roomId) state.client.typing(state.roomId, ui.input.value.length > 0);
  });
  ui.closeRoom.addEventListener("click", () => void closeRoom());
  ui.leave.addEventListener("click", () => void leaveRoom());
  ui.copyLink.addEventListener("click", () => {
    const link = inviteLink(state.roomId ?? "");
    ui.inviteLink.select();
    navigator.clipboard?.writeText(link).then(
      () => log("invite link copied"),
      () => log(`invite link: ${link}`),
    );
  });
  ui.inviteLink.addEventListener("focus", () => ui.inviteLink.select());
  ui.drop.addEventListener("click", () => dropConnection());
  ui.loadOlder.addEventListener("click", () => void loadOlder());
  ui.lobbyRefresh.addEventListener("click", () => void loadLobby());
  ui.logPanel.addEventListener("toggle", () => {
    document.body.classList.toggle("console-beside", ui.logPanel.open);
  });

  // The buttons start disabled so nothing submits natively before these handlers exist.
  $("create-room").disabled = false;
  $("join-room").disabled = false;
  document.documentElement.dataset.ready = "true";

  const room = params.get("room");
  if (room && (explicit || saved) && params.get("autojoin") !== "0") {
    join(room, readUser()).catch(showSetupError);
  } else {
    // An invite reaching a tab with no identity: a new user, who names themselves first.
    if (room && !explicit && !saved) void showInvite(room);
    startLobby();
  }
}

start();
