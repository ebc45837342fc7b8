// roomcast demo page: create a room, join it, chat, presence, typing, close as admin.
//
// It talks to the local runtime's admin API directly with the key from /config.json.
// That is a local-only shortcut: in production the admin API key never reaches a
// browser; your backend creates rooms and mints connect tokens.
//
// URL parameters: ?room=<id>&user=<id>&name=<display name> prefill the forms and join
// at once (add autojoin=0 to only prefill). Tests rely on the element ids and
// data-testid attributes in index.html, and on window.roomcastDemo.

import { RoomcastClient, RoomcastError } from "../roomcast.js";

/** @typedef {{ws_url: string, admin_api_url: string, admin_key?: string}} DemoConfig */

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const TYPING_EXPIRES_MS = 6_000;

const ui = {
  status: $("status"),
  setupPanel: $("setup-panel"),
  setupError: $("setup-error"),
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
  leave: $("leave-room"),
  closeRoom: $("close-room"),
  roomClosed: $("room-closed"),
  messages: $("messages"),
  typing: $("typing-indicator"),
  sendForm: $("send-form"),
  input: $("message-input"),
  sendButton: $("send-button"),
  members: $("members"),
  memberCount: $("member-count"),
  log: $("log"),
};

/** @type {{config: DemoConfig | null, client: RoomcastClient | null, roomId: string | null,
 *   user: {user_id: string, name: string} | null, typers: Map<string, {name: string, timer: any}>,
 *   rendered: Map<string, HTMLElement>}} */
const state = {
  config: null,
  client: null,
  roomId: null,
  user: null,
  typers: new Map(),
  rendered: new Map(), // message id or client_msg_id -> <li>
};

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
  showRoom(joined, user);
  history.replaceState(null, "", `?${new URLSearchParams({ room: roomId, user: user.user_id, name: user.name })}`);
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
  on("reconnecting", (d) => setStatus("reconnecting", `Reconnecting (attempt ${d.attempt})…`));
  on("reconnected", (d) => log(`reconnected after ${d.attempts} attempt(s); rejoined ${d.rooms.join(", ") || "no rooms"}`));
  on("message", (d) => {
    if (d.message.room_id !== state.roomId) return;
    renderMessage(d.message, { catchUp: Boolean(d.catch_up) });
    clearTyper(d.message.user_id);
  });
  on("presence", (d) => d.room_id === state.roomId && renderMembers(d.members));
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
  if (joined.history.next_cursor) systemLine("Older messages are not shown.", true);
  renderMembers(joined.members);
  setComposerEnabled(true);
  ui.input.focus();
}

/**
 * @param {any} message
 * @param {{pending?: boolean, catchUp?: boolean}} options
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
  li.dataset.state = options.pending ? "pending" : "sent";
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
  li.append(who, text, when);
  ui.messages.append(li);
  state.rendered.set(key, li);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return li;
}

/** @param {HTMLElement} li @param {any} message */
function confirmMessage(li, message) {
  li.dataset.state = "sent";
  li.dataset.messageId = message.id;
  state.rendered.set(message.id, li);
  const when = /** @type {HTMLTimeElement} */ (li.querySelector("time"));
  when.dateTime = message.sent_at;
  when.textContent = new Date(message.sent_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** @param {string} text @param {boolean} [muted] */
function systemLine(text, muted = false) {
  const li = document.createElement("li");
  li.className = "system";
  li.dataset.testid = "system-message";
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
  setComposerEnabled(false);
  for (const userId of [...state.typers.keys()]) clearTyper(userId);
  renderMembers([]);
}

/** @param {boolean} enabled */
function setComposerEnabled(enabled) {
  ui.input.disabled = !enabled;
  ui.sendButton.disabled = !enabled;
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
  try {
    const ack = await client.send(roomId, text, { clientMsgId });
    confirmMessage(li, ack.message);
  } catch (error) {
    li.dataset.state = "failed";
    li.title = describe(error);
    log(`send failed: ${describe(error)}`);
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
  setStatus("idle", "Not connected");
  history.replaceState(null, "", location.pathname);
}

// ------------------------------------------------------------------ start

function start() {
  const params = new URLSearchParams(location.search);
  ui.userId.value = params.get("user") ?? `user-${Math.random().toString(36).slice(2, 6)}`;
  ui.userName.value = params.get("name") ?? "";
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
    const link = `${location.origin}${location.pathname}?room=${encodeURIComponent(state.roomId ?? "")}`;
    navigator.clipboard?.writeText(link).then(
      () => log("invite link copied"),
      () => log(`invite link: ${link}`),
    );
  });

  // The buttons start disabled so nothing submits natively before these handlers exist.
  $("create-room").disabled = false;
  $("join-room").disabled = false;
  document.documentElement.dataset.ready = "true";

  if (params.get("room") && params.get("user") && params.get("autojoin") !== "0") {
    join(params.get("room") ?? "", readUser()).catch(showSetupError);
  }
}

start();
