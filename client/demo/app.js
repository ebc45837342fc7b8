// @ts-check
// roomcast demo: a chat app on @roomcast/client (../dist/index.js, committed: no build step).
// Rooms on the left (the lobby), the conversation in the middle, people on the right with
// each person's actions in a menu shown only to those who may use them.
//
// It talks to the local runtime's admin API directly with the key from /config.json: a
// local-only shortcut. In production the admin API key never reaches a browser; your
// backend creates rooms, mints connect tokens and changes roles.
//
// Identity: each tab keeps its user in sessionStorage (a reload rejoins as the same user).
// The address only ever holds ?room=<id>, which is also the invite link: opened in another
// browser, it asks for a display name and joins as a new user.
//
// URL parameters: ?room=<id> (an invite: join once named; a tab with an identity rejoins at
// once). Scripts and tests may add &user=<id>&name=<display name> to join as that user at
// once (autojoin=0 only prefills). Other modules (calls-ui.js, server-tools.js) follow the
// page through window.roomcastDemo and the events "roomcast-demo:joined" / ":left" / ":closed".

import { RoomcastClient, RoomcastError, UnauthorizedError } from "../dist/index.js";
import { avatar, clock, el, describeError, icon } from "./ui.js";

/** @typedef {import("../dist/index.js").Room} Room */
/** @typedef {import("../dist/index.js").Message} Message */
/** @typedef {import("../dist/index.js").Member} Member */
/** @typedef {{ws_url: string, admin_api_url: string, admin_key?: string}} DemoConfig */
/** @typedef {{user_id: string, name: string}} User */

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
// "Load older" pages: the join reply carries the newest 50; each click adds this many.
const OLDER_PAGE = 25;
const LOBBY_REFRESH_MS = 5_000;
const ROLES_REFRESH_MS = 10_000;
const IDENTITY_KEY = "roomcast-demo:identity";
// After this many failed reconnects in a row the runtime is probably not running.
const GONE_AFTER_ATTEMPTS = 3;

const ui = {
  status: $("status"), me: $("me"), meAvatar: $("me-avatar"), meLabel: $("me-label"),
  lobbyRooms: $("lobby-rooms"), lobbyEmpty: $("lobby-empty"), lobbyLoading: $("lobby-loading"), lobbyRefresh: $("lobby-refresh"),
  createForm: $("create-form"), newRoomName: $("new-room-name"), joinForm: $("join-form"), roomId: $("room-id"),
  setupPanel: $("setup-panel"), setupError: $("setup-error"), inviteBanner: $("invite-banner"), userId: $("user-id"), userName: $("user-name"),
  roomPanel: $("room-panel"), roomTitle: $("room-title"), roomIdLabel: $("room-id-label"), memberCount: $("member-count"),
  copyLink: $("copy-link"), inviteLink: $("invite-link"), roomMenuButton: $("room-menu-button"), roomMenu: $("room-menu"),
  drop: $("drop-connection"), toggleLog: $("toggle-log"), leave: $("leave-room"), closeRoom: $("close-room"),
  connectionBanner: $("connection-banner"), roomState: $("room-state"), composerBanner: $("composer-banner"),
  messages: $("messages"), timeline: /** @type {HTMLElement} */ (document.querySelector(".timeline")),
  loadOlder: $("load-older"), historyStart: $("history-start"), typing: $("typing-indicator"),
  sendForm: $("send-form"), input: $("message-input"), sendButton: $("send-button"),
  people: $("people"), members: $("members"), membersLabel: $("members-label"),
  bannedSection: $("banned-section"), banned: $("banned"), youModerate: $("you-moderate"),
  modDialog: $("mod-dialog"), modTitle: $("mod-title"), modText: $("mod-text"), modDurationField: $("mod-duration-field"),
  modDuration: $("mod-duration"), modReason: $("mod-reason"), modConfirm: $("mod-confirm"), modError: $("mod-error"),
  closeDialog: $("close-dialog"), closeRoomName: $("close-room-name"),
  log: $("log"), logPanel: $("log-panel"),
};

/**
 * @type {{config: DemoConfig | null, client: RoomcastClient | null, room: Room | null, roomId: string | null,
 *   user: User | null, rendered: Map<string, HTMLElement>, caughtUp: number | null, lobbyTimer: any,
 *   rolesTimer: any, roles: Map<string, string>, admins: Set<string>, myRole: string, openMenu: HTMLElement | null,
 *   mutedByMe: Set<string>, lobbyLoaded: boolean}}
 */
const state = {
  config: null,
  client: null,
  room: null,
  roomId: null,
  user: null,
  rendered: new Map(), // message id or client_msg_id -> <li>
  caughtUp: null, // messages caught up since a drop (null: no drop under way)
  lobbyTimer: null,
  rolesTimer: null,
  roles: new Map(), // user id -> roster role (member, moderator, admin)
  admins: new Set(), // the room's admin_user_ids
  myRole: "member", // member | moderator | admin (admin: may change roles too)
  openMenu: null,
  mutedByMe: new Set(),
  lobbyLoaded: false,
};

// ------------------------------------------------------------------ identity (per tab)

/** @returns {User | null} */
function savedIdentity() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(IDENTITY_KEY) ?? "null");
    return saved && typeof saved.user_id === "string" ? saved : null;
  } catch {
    return null;
  }
}

/** @param {User} user */
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

/** @returns {User} */
function readUser() {
  const userId = ui.userId.value.trim();
  if (!/^[A-Za-z0-9_.@:-]{1,128}$/.test(userId)) {
    throw new RoomcastError("invalid_argument", "User id: 1-128 letters, digits or _ . @ : -");
  }
  return { user_id: userId, name: ui.userName.value.trim() || userId };
}

/** The invite link: the room only; whoever opens it chooses who they are. @param {string} roomId */
function inviteLink(roomId) {
  return `${location.origin}${location.pathname}?${new URLSearchParams({ room: roomId })}`;
}

// ------------------------------------------------------------------ admin API (local only)

/** @param {boolean} [fresh] read it again (the runtime restarted: a new admin key) */
async function config(fresh = false) {
  if (!state.config || fresh) {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`GET /config.json answered ${response.status}`);
    state.config = await response.json();
  }
  return /** @type {DemoConfig} */ (state.config);
}

/** @param {string} method @param {string} path @param {any} [body] @param {boolean} [retried] @returns {Promise<any>} */
export async function adminApi(method, path, body, retried = false) {
  const cfg = await config();
  const response = await fetch(cfg.admin_api_url.replace(/\/$/, "") + path, {
    method,
    headers: { "content-type": "application/json", "x-api-key": cfg.admin_key ?? "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if ((response.status === 401 || response.status === 403) && !retried) {
    // A restarted runtime has a new admin key: read the config again, once.
    await config(true);
    return adminApi(method, path, body, true);
  }
  if (!response.ok) {
    const error = new RoomcastError(data.code ?? `http_${response.status}`, data.message ?? response.statusText);
    /** @type {any} */ (error).httpStatus = response.status;
    throw error;
  }
  return data;
}

/** @param {User} user @param {string} roomId */
async function mintToken(user, roomId) {
  try {
    // Scoped to this one room: the token cannot be used to join any other.
    const data = await adminApi("POST", "/tokens", { user_id: user.user_id, name: user.name, rooms: [roomId] });
    return /** @type {string} */ (data.token);
  } catch (error) {
    // Our "backend" refuses to mint: the client stops and says so (no reconnect loop).
    const status = /** @type {any} */ (error).httpStatus;
    if (status === 401 || status === 403) throw new UnauthorizedError(describeError(error), status);
    throw error;
  }
}

// ------------------------------------------------------------------ names

/** The name to show for a user id: from the room, what this page saw, or a description. @param {string | undefined} userId */
function nameOf(userId) {
  if (!userId) return "someone";
  if (userId === state.user?.user_id) return "you";
  if (userId === "admin-api") return "an operator";
  return state.room?.nameOf(userId) ?? knownNames.get(userId) ?? userId;
}
/** @type {Map<string, string>} names seen on this page (banned users keep theirs) */
const knownNames = new Map();

// ------------------------------------------------------------------ joining

async function createAndJoin() {
  const user = readUser();
  const name = ui.newRoomName.value.trim() || `${user.name}'s room`;
  const room = await adminApi("POST", "/rooms", { name, admin_user_ids: [user.user_id] });
  log(`created room ${room.room_id}`);
  ui.newRoomName.value = "";
  await join(room.room_id, user);
  void loadLobby();
}

/** @param {string} roomId @param {User} user */
async function join(roomId, user) {
  const cfg = await config();
  if (state.client) endRoom("switch");
  const client = new RoomcastClient({
    url: cfg.ws_url,
    // A fresh token for every (re)connect: tokens expire, sockets live up to 2 hours.
    getToken: () => mintToken(user, roomId),
    reconnect: { minDelayMs: 250, maxDelayMs: 4_000 },
    calls: { iceServers: /** @type {any} */ (cfg).iceServers ?? [] },
  });
  state.client = client;
  const room = client.room(roomId);
  wireClient(client);
  wireRoom(client, room);
  setStatus("connecting", "Connecting…");
  let joined;
  try {
    await client.connect();
    joined = await room.join();
  } catch (error) {
    client.disconnect();
    if (state.client === client) state.client = null;
    throw error;
  }
  state.room = room;
  state.roomId = roomId;
  state.user = user;
  state.mutedByMe = new Set();
  saveIdentity(user);
  showIdentity(user);
  showRoom(joined, user);
  // The room only: copying the address is inviting someone, never handing over who you are.
  history.replaceState(null, "", `?${new URLSearchParams({ room: roomId })}`);
  void loadRoles();
  clearInterval(state.rolesTimer);
  state.rolesTimer = setInterval(() => void loadRoles(), ROLES_REFRESH_MS);
  renderLobbySelection();
  const detail = { client, room, roomId, user, config: cfg, joined };
  /** @type {any} */ (window).roomcastDemo = detail;
  window.dispatchEvent(new CustomEvent("roomcast-demo:joined", { detail }));
}

/** Who may do what here: the room's admins and its roster (moderators), read with the admin API. */
async function loadRoles() {
  const roomId = state.roomId;
  if (!roomId || !state.user) return;
  try {
    const [view, roster] = await Promise.all([
      adminApi("GET", `/rooms/${encodeURIComponent(roomId)}`),
      adminApi("GET", `/rooms/${encodeURIComponent(roomId)}/members?limit=100`),
    ]);
    if (state.roomId !== roomId) return;
    state.admins = new Set(view.admin_user_ids ?? []);
    state.roles = new Map((roster.members ?? []).map((/** @type {any} */ m) => [m.user_id, m.role]));
    const me = state.user.user_id;
    const listed = state.roles.get(me);
    state.myRole = state.admins.has(me) || listed === "admin" ? "admin" : listed === "moderator" ? "moderator" : "member";
    const open = view.state === "open" && state.room?.state === "joined";
    ui.closeRoom.hidden = !(state.admins.has(me) && open);
    ui.roomPanel.dataset.role = state.myRole;
    ui.youModerate.hidden = state.myRole === "member";
    ui.youModerate.textContent =
      state.myRole === "admin" ? "You are an admin here: the ⋯ next to a person has their actions." : "You are a moderator here: the ⋯ next to a person has their actions.";
    renderMembers();
    renderBanned();
    markDeletable();
  } catch (error) {
    log(`roles: ${describeError(error)}`);
  }
}

/** @param {RoomcastClient} client */
function wireClient(client) {
  const on = (/** @type {any} */ type, /** @type {(detail: any) => void} */ fn) =>
    client.on(type, (detail) => {
      if (state.client === client) fn(detail);
    });
  on("state", (d) => onConnectionState(d));
  on("reconnected", (d) => {
    log(`reconnected after ${d.attempts} attempt(s); rejoined ${d.rooms.join(", ") || "no rooms"}`);
    if (state.caughtUp !== null) {
      const count = state.caughtUp;
      state.caughtUp = null;
      log(`caught up ${count} message(s) through history`);
      note(`Reconnected after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"} and rejoined; caught up ${count} message${count === 1 ? "" : "s"}.`, "reconnect-note");
    }
  });
  on("disconnected", (d) => {
    connectionBanner("danger", "An operator disconnected you", `Reason: ${d.reason}. This tab will not reconnect by itself.`, "Connect again", () => void rejoin());
  });
  on("unauthorized", (d) => {
    connectionBanner(
      "danger",
      `Not authorized${d.status ? ` (${d.status})` : ""}`,
      "The server refused this session twice with a fresh token, so the client stopped trying. Reload the page to start over.",
      "Reload",
      () => location.reload(),
    );
  });
  on("error", (d) => log(`error: ${describeError(d.error)}`));
  on("frame", (d) => log(`← ${d.type}`));
}

/** @param {any} d the client's "state" event */
function onConnectionState(d) {
  if (d.state === "open") {
    setStatus("open", "Connected");
    ui.connectionBanner.hidden = true;
  } else if (d.state === "connecting") {
    setStatus("connecting", "Connecting…");
  } else if (d.state === "reconnecting") {
    log(`socket closed${d.code ? ` ${d.code}` : ""}${d.reason ? ` (${d.reason})` : ""}; reconnecting: attempt ${d.attempt} in ${d.delayMs} ms (backoff with jitter)`);
    setStatus("reconnecting", `Reconnecting (attempt ${d.attempt})…`);
    if (d.attempt >= GONE_AFTER_ATTEMPTS) {
      connectionBanner(
        "warn",
        "Can't reach the roomcast runtime",
        "Is `make run` still running? Start it again; this tab reconnects by itself, rejoins the room and catches up.",
        "Retry now",
        () => state.client?.retryNow(),
      );
    } else {
      connectionBanner("info", "Connection lost", "Reconnecting… messages you send now are delivered once it is back.");
    }
  } else if (d.state === "closed") {
    const labels = /** @type {Record<string, string>} */ ({
      room_closed: "Room closed",
      disconnected: "Disconnected by an operator",
      unauthorized: "Not authorized",
      disconnect: "Not connected",
      gave_up: "Offline",
      connect_failed: "Disconnected",
    });
    // A closed room is the end of the conversation for every page, the closer's too.
    const label = state.room?.state === "closed" ? "Room closed" : labels[d.cause] ?? "Disconnected";
    setStatus("closed", label, d.cause);
    log(`connection closed (${d.cause})`);
  }
}

/** @param {RoomcastClient} client @param {Room} room */
function wireRoom(client, room) {
  const on = (/** @type {any} */ type, /** @type {(detail: any) => void} */ fn) =>
    room.on(type, (detail) => {
      if (state.client === client) fn(detail);
    });
  on("state", (d) => onRoomState(d.state, d.reason));
  on("message", (d) => {
    const known = state.rendered.has(d.message.id);
    renderMessage(d.message, { catchUp: d.catchUp });
    if (d.catchUp && !known && state.caughtUp !== null) state.caughtUp += 1;
  });
  on("presence", (d) => {
    if (d.change) log(`${d.change.name} ${d.change.type === "member.joined" ? "joined" : "left"}`);
    renderMembers();
  });
  on("typing", (d) => renderTyping(d.typers));
  on("delta", (d) => renderStream(d));
  on("deleted", (d) => {
    const li = state.rendered.get(d.message_id);
    if (li) markDeleted(li, d.deleted_by);
  });
  on("muted", () => renderComposer());
  on("unmuted", (d) => {
    renderComposer();
    if (!d.synthetic) note(`${cap(nameOf(d.by))} unmuted you: you can write again.`);
  });
  on("gap", (d) => note(`Some missed messages could not be loaded (${d.reason}).`));
  on("joined", () => renderMembers());
}

// ------------------------------------------------------------------ the room's state

/** @param {string} roomState @param {any} reason */
function onRoomState(roomState, reason) {
  ui.roomPanel.dataset.roomState = roomState;
  const live = roomState === "joined" || roomState === "joining";
  setLiveControls(roomState === "joined");
  ui.people.hidden = !live && roomState !== "left";
  if (live) {
    ui.roomState.hidden = true;
    renderComposer();
    return;
  }
  renderTyping([]);
  renderMembers();
  const by = reason?.by ? ` by ${nameOf(reason.by)}` : "";
  const why = reason?.message ? ` Reason: “${reason.message}”.` : "";
  const until = reason?.until ? ` until ${clock(reason.until)}` : "";
  const back = () => leaveRoom();
  if (roomState === "kicked" && reason?.code === "members_only") {
    roomBanner("warn", "You are no longer on this room's list", "It is members-only now and you were taken off it.", "Back to rooms", back);
  } else if (roomState === "kicked") {
    const what = reason?.code === "removed" ? "taken off this room's list" : "removed from this room";
    roomBanner("warn", `You were ${what}${by}`, `${why} You can join again.`.trim(), "Join again", () => void rejoin());
  } else if (roomState === "banned") {
    roomBanner("danger", `You are banned from this room${by}${until || " for good"}`, `${why} You can read nothing more here until a moderator lifts it.`.trim(), "Back to rooms", back);
  } else if (roomState === "closed") {
    if (reason?.code === "room_not_found") {
      roomBanner("danger", "This room no longer exists", "The runtime may have restarted with a fresh state (`--fresh`). Its messages are gone.", "Back to rooms", back);
    } else {
      roomBanner("info", `This room was closed${by}`, "Nothing more can be said here; its record went to the owner's webhook.", "Back to rooms", back);
    }
    onRoomClosed();
  } else if (roomState === "left" && reason) {
    const texts = /** @type {Record<string, string>} */ ({
      disconnected: "An operator disconnected you from the server.",
      unauthorized: "This session is no longer authorized.",
      forbidden: "Your token does not allow this room.",
      gave_up: "The connection could not be brought back.",
    });
    roomBanner("danger", "You are out of this room", texts[reason.code] ?? `The server said: ${reason.code}.`, "Join again", () => void rejoin());
  }
}

/** The room closed: nothing stays live; the connection has nothing left to do. */
function onRoomClosed() {
  ui.closeRoom.hidden = true;
  for (const button of ui.messages.querySelectorAll("button.resend")) button.disabled = true;
  for (const button of ui.messages.querySelectorAll("button.delete")) button.remove();
  const roomId = state.roomId;
  window.dispatchEvent(new CustomEvent("roomcast-demo:closed", { detail: { roomId } }));
  // Everyone else's socket is closed by the server; close ours too, so every page agrees.
  setTimeout(() => state.client?.disconnect(), 0);
  void loadLobby();
}

/** What only makes sense in a live room: composing, inviting, dropping the socket, paging. @param {boolean} live */
function setLiveControls(live) {
  for (const control of [ui.copyLink, ui.inviteLink, ui.drop, ui.loadOlder]) control.disabled = !live;
  renderComposer();
}

/** The composer and the banner next to it: disabled while muted (reason, until), or out of the room. */
function renderComposer() {
  const room = state.room;
  const joined = room?.state === "joined" || room?.state === "joining";
  const muted = joined ? room?.muted : null;
  ui.input.disabled = !joined || Boolean(muted);
  ui.sendButton.disabled = !joined || Boolean(muted);
  if (muted) {
    const by = muted.by ? ` by ${nameOf(muted.by)}` : "";
    const until = muted.until ? `until ${clock(muted.until)}` : "until a moderator lifts it";
    ui.composerBanner.replaceChildren(
      el("p", { class: "rc-banner-text" }, [
        el("strong", {}, [`You are muted${by}`]),
        `You can read, not write, ${until}.${muted.reason ? ` Reason: “${muted.reason}”.` : ""}`,
      ]),
    );
    ui.composerBanner.dataset.kind = "muted";
    ui.composerBanner.hidden = false;
    ui.input.placeholder = "You are muted";
  } else {
    ui.composerBanner.hidden = true;
    ui.input.placeholder = joined ? "Write a message" : "";
  }
}

/**
 * @param {HTMLElement} target @param {string} tone @param {string} title @param {string} text
 * @param {string} [action] @param {() => void} [run]
 */
function banner(target, tone, title, text, action, run) {
  const parts = [el("p", { class: "rc-banner-text" }, [el("strong", {}, [title]), text])];
  if (action && run) {
    const button = el("button", { class: "rc-btn rc-small", type: "button", "data-testid": `${target.id}-action` }, [action]);
    button.addEventListener("click", run);
    parts.push(button);
  }
  target.replaceChildren(...parts);
  target.dataset.tone = tone;
  target.hidden = false;
}
/** Where the room stands for you, and what to do next. @param {string} tone @param {string} title @param {string} text @param {string} [action] @param {() => void} [run] */
const roomBanner = (tone, title, text, action, run) => banner(ui.roomState, tone, title, text, action, run);
/** The connection's trouble. @param {string} tone @param {string} title @param {string} text @param {string} [action] @param {() => void} [run] */
const connectionBanner = (tone, title, text, action, run) => banner(ui.connectionBanner, tone, title, text, action, run);

/** Join the same room again (after a kick, a lifted ban, an operator's disconnect). */
async function rejoin() {
  const roomId = state.roomId;
  const user = state.user;
  if (!roomId || !user) return;
  ui.roomState.hidden = true;
  try {
    await join(roomId, user);
  } catch (error) {
    roomBanner("danger", "Could not join again", describeError(error), "Back to rooms", () => leaveRoom());
  }
}

// ------------------------------------------------------------------ rendering

/** @param {string} kind @param {string} text @param {string} [cause] */
function setStatus(kind, text, cause) {
  ui.status.dataset.state = kind;
  if (cause) ui.status.dataset.cause = cause;
  else delete ui.status.dataset.cause;
  ui.status.textContent = text;
}

/** @param {User} user */
function showIdentity(user) {
  ui.me.hidden = false;
  ui.meLabel.textContent = user.name;
  ui.meLabel.dataset.userId = user.user_id;
  const face = avatar(user.user_id, user.name);
  ui.meAvatar.replaceWith(face);
  face.id = "me-avatar";
  ui.meAvatar = face;
}

/** @param {any} joined @param {User} user */
function showRoom(joined, user) {
  ui.setupPanel.hidden = true;
  ui.roomPanel.hidden = false;
  ui.people.hidden = false;
  ui.roomTitle.textContent = joined.room.name;
  ui.roomIdLabel.textContent = joined.room.room_id;
  ui.roomState.hidden = true;
  ui.connectionBanner.hidden = true;
  ui.messages.replaceChildren();
  state.rendered.clear();
  for (const message of joined.history.messages) renderMessage(message, {});
  setOlderCursor();
  ui.inviteLink.value = inviteLink(joined.room.room_id);
  ui.closeRoom.hidden = true;
  onRoomState("joined", null);
  renderMembers();
  renderBanned();
  ui.input.focus();
  void user;
}

/**
 * @param {any} message
 * @param {{pending?: boolean, catchUp?: boolean, before?: Node | null}} options
 *   before: insert above this node (older history) instead of at the end
 */
function renderMessage(message, options) {
  const key = message.id ?? message.client_msg_id;
  if (state.rendered.has(key)) return state.rendered.get(key);
  if (message.user_id && message.name) knownNames.set(message.user_id, message.name);
  // Our own message coming back (e.g. through history): reuse the optimistic line.
  if (message.client_msg_id && state.rendered.has(message.client_msg_id)) {
    const li = /** @type {HTMLElement} */ (state.rendered.get(message.client_msg_id));
    confirmMessage(li, message);
    return li;
  }
  // A streamed reply already on screen: the final message takes its place.
  const streaming = message.id ? ui.messages.querySelector(`li[data-testid="stream"][data-message-id="${CSS.escape(message.id)}"]`) : null;
  const li = el("li", { "data-testid": "message", "data-user-id": message.user_id, "data-mine": String(message.user_id === state.user?.user_id) });
  if (message.id) li.dataset.messageId = message.id;
  if (message.client_msg_id) li.dataset.clientMsgId = message.client_msg_id;
  if (message.sender_kind) li.dataset.senderKind = message.sender_kind;
  if (message.streamed) li.dataset.streamed = "true";
  if (options.catchUp) li.dataset.catchUp = "true";
  const who = el("span", { class: "who" }, [message.name]);
  const head = el("div", { class: "head" }, [who]);
  if (message.sender_kind) head.append(el("span", { class: "rc-badge", "data-kind": message.sender_kind }, [message.sender_kind]), " ");
  const when = el("time", { class: "when" });
  if (message.sent_at) {
    when.setAttribute("datetime", message.sent_at);
    when.textContent = clock(message.sent_at);
  }
  head.append(when);
  const text = el("div", { class: "text", "data-testid": "message-text" }, [message.text]);
  const side = el("div", { class: "side" }, [el("span", { class: "state", "data-testid": "message-state" })]);
  li.append(avatar(message.user_id, message.name), head, text, side);
  if (message.deleted) markDeleted(li, message.deleted_by);
  setMessageState(li, options.pending ? "pending" : "sent");
  if (streaming) {
    streaming.replaceWith(li);
  } else {
    // Lines still sending stay below what the room has stored (e.g. what a catch-up brings in).
    const firstPending = options.pending ? null : ui.messages.querySelector('li[data-state="pending"]');
    if (options.before !== undefined || firstPending) {
      ui.messages.insertBefore(li, options.before !== undefined ? options.before : firstPending);
    } else {
      ui.messages.append(li);
      scrollToEnd();
    }
  }
  state.rendered.set(key, li);
  markDeletable();
  return li;
}

function scrollToEnd() {
  ui.timeline.scrollTop = ui.timeline.scrollHeight;
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
    const resend = /** @type {HTMLButtonElement} */ (el("button", { type: "button", class: "rc-btn rc-quiet rc-small resend", "data-testid": "resend" }, ["Resend"]));
    resend.disabled = state.room?.state !== "joined";
    resend.addEventListener("click", () => void deliver(li));
    status.append(" ", resend);
  }
}

/** @param {HTMLElement} li @param {any} message */
function confirmMessage(li, message) {
  setMessageState(li, "sent");
  li.dataset.messageId = message.id;
  state.rendered.set(message.id, li);
  const when = /** @type {HTMLElement} */ (li.querySelector("time"));
  when.setAttribute("datetime", message.sent_at);
  when.textContent = clock(message.sent_at);
  markDeletable();
}

/** A tombstone in place of the text. @param {Element} li @param {string | undefined} by */
function markDeleted(li, by) {
  li.setAttribute("data-deleted", "true");
  const text = li.querySelector('[data-testid="message-text"]');
  if (text) text.textContent = `(deleted by ${nameOf(by)})`;
  li.querySelector("button.delete")?.remove();
}

/** A delete button on each stored message, for moderators only (the server checks anyway). */
function markDeletable() {
  const allowed = state.myRole !== "member" && state.room?.state === "joined";
  for (const li of ui.messages.querySelectorAll('li[data-testid="message"]')) {
    const button = li.querySelector("button.delete");
    const wanted = allowed && li.dataset.messageId && li.dataset.deleted !== "true";
    if (wanted && !button) {
      const control = el("button", { type: "button", class: "rc-icon-btn delete", "data-testid": "delete-message", title: "Delete this message (moderators)", "aria-label": "Delete this message" }, [icon("trash")]);
      control.addEventListener("click", () => {
        const id = li.dataset.messageId;
        if (id && state.room) void moderate("delete", () => /** @type {Room} */ (state.room).deleteMessage(id));
      });
      li.querySelector(".side")?.append(control);
    } else if (!wanted && button) {
      button.remove();
    }
  }
}

/** @param {string} text @param {string} [testid] */
function note(text, testid = "system-message") {
  ui.messages.append(el("li", { class: "note", "data-testid": testid }, [text]));
  scrollToEnd();
}

/** @param {any} d a room "delta" event: the bot's reply, in place, as it grows */
function renderStream(d) {
  if (d.done) return; // the final message replaces the line (renderMessage)
  let li = ui.messages.querySelector(`li[data-testid="stream"][data-message-id="${CSS.escape(d.message_id)}"]`);
  if (!li) {
    li = el("li", { "data-testid": "stream", "data-message-id": d.message_id, "data-sender-kind": d.sender_kind, class: "streaming" }, [
      avatar(d.user_id, d.name),
      el("div", { class: "head" }, [el("span", { class: "who" }, [d.name]), el("span", { class: "rc-badge", "data-kind": d.sender_kind }, [d.sender_kind]), " ", el("span", { class: "when" }, ["typing…"])]),
      el("div", { class: "text", "data-testid": "stream-text" }),
    ]);
    ui.messages.append(li);
  }
  /** @type {HTMLElement} */ (li.querySelector('[data-testid="stream-text"]')).textContent = d.text;
  scrollToEnd();
}

/** @param {{user_id: string, name: string}[]} typers */
function renderTyping(typers) {
  const names = typers.filter((t) => t.user_id !== state.user?.user_id).map((t) => t.name);
  ui.typing.dataset.users = typers.map((t) => t.user_id).join(" ");
  ui.typing.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
}

function setOlderCursor() {
  const cursor = state.room?.olderCursor ?? null;
  ui.loadOlder.hidden = cursor === null;
  ui.historyStart.hidden = cursor !== null;
}

// ------------------------------------------------------------------ people

/** @param {string} userId */
function roleOf(userId) {
  if (state.admins.has(userId)) return "admin";
  return state.roles.get(userId) ?? "member";
}

/** May I act on this person? Moderators not on the room's admins (the server's rule). @param {string} userId */
function mayModerate(userId) {
  if (state.myRole === "member" || userId === state.user?.user_id) return false;
  return !(state.admins.has(userId) && !state.admins.has(state.user?.user_id ?? ""));
}

function renderMembers() {
  const room = state.room;
  const live = room?.state === "joined" || room?.state === "joining";
  const members = live ? room?.members ?? [] : [];
  for (const m of members) knownNames.set(m.user_id, m.name);
  ui.memberCount.textContent = String(members.length);
  ui.membersLabel.textContent = live ? `People (${members.length})` : room?.state === "closed" ? "Room closed: nobody is here" : "Not in the room";
  ui.members.replaceChildren(...members.map(memberRow));
  window.dispatchEvent(new CustomEvent("roomcast-demo:members", { detail: { members } }));
}

function roomIsJoined() {
  return state.room?.state === "joined";
}

/** @param {Member} m */
function memberRow(m) {
  const you = m.user_id === state.user?.user_id;
  const role = roleOf(m.user_id);
  const title = el("span", { class: "rc-row-title" }, [el("span", { class: "rc-row-name" }, [m.name]), you ? " (you)" : ""]);
  if (role !== "member") title.append(el("span", { class: "rc-badge", "data-kind": role }, [role]));
  if (state.mutedByMe.has(m.user_id)) title.append(el("span", { class: "rc-badge", "data-kind": "muted" }, ["muted"]));
  const sub = el("span", { class: "rc-row-sub" }, [m.connections > 1 ? `${m.connections} tabs` : "online"]);
  const li = el("li", { class: "rc-row", "data-testid": "member", "data-user-id": m.user_id, "data-role": role }, [
    avatar(m.user_id, m.name),
    el("span", { class: "rc-row-main" }, [title, sub]),
  ]);
  if (!you && roomIsJoined()) {
    const call = el("button", { type: "button", class: "rc-icon-btn", "data-testid": "call-member", title: `Call ${m.name}`, "aria-label": `Call ${m.name}` }, [icon("phone")]);
    call.addEventListener("click", () => window.dispatchEvent(new CustomEvent("roomcast-demo:call", { detail: { user_id: m.user_id, name: m.name } })));
    li.append(call);
  }
  const actions = memberActions(m);
  if (actions.length) li.append(menu(`member-menu-${m.user_id}`, `Actions for ${m.name}`, actions));
  return li;
}

/** @param {Member} m @returns {[string, string, () => void, boolean?][]} label, testid, action, danger */
function memberActions(m) {
  if (!mayModerate(m.user_id) || state.room?.state !== "joined") return [];
  const room = /** @type {Room} */ (state.room);
  /** @type {[string, string, () => void, boolean?][]} */
  const actions = [];
  if (state.mutedByMe.has(m.user_id)) {
    actions.push(["Unmute", "member-unmute", () => void moderate("unmute", () => room.unmute(m.user_id), m)]);
  } else {
    actions.push(["Mute…", "member-mute", () => openModDialog("mute", m)]);
  }
  actions.push(["Kick", "member-kick", () => void moderate("kick", () => room.kick(m.user_id), m), true]);
  actions.push(["Ban…", "member-ban", () => openModDialog("ban", m), true]);
  if (state.myRole === "admin" && !state.admins.has(m.user_id)) {
    const role = roleOf(m.user_id);
    if (role === "moderator") actions.push(["Make member", "member-role", () => void setRole(m, "member")]);
    else actions.push(["Make moderator", "member-role", () => void setRole(m, "moderator")]);
  }
  return actions;
}

/** A ⋯ button and its menu. @param {string} id @param {string} label @param {[string, string, () => void, boolean?][]} items */
function menu(id, label, items) {
  const list = el("div", { class: "rc-menu", role: "menu", id, hidden: "" });
  for (const [text, testid, run, danger] of items) {
    const item = el("button", { type: "button", role: "menuitem", "data-testid": testid, class: danger ? "rc-danger" : "" }, [text]);
    item.addEventListener("click", () => {
      closeMenus();
      run();
    });
    list.append(item);
  }
  const button = el("button", { type: "button", class: "rc-icon-btn", "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": id, title: label, "data-testid": "member-menu" }, ["⋯"]);
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    toggleMenu(button, list);
  });
  return el("div", { class: "rc-menu-anchor" }, [button, list]);
}

/** @param {HTMLElement} button @param {HTMLElement} list */
function toggleMenu(button, list) {
  const open = list.hidden;
  closeMenus();
  if (open) {
    list.hidden = false;
    button.setAttribute("aria-expanded", "true");
    state.openMenu = list;
    /** @type {HTMLElement | null} */ (list.querySelector("button:not([hidden]):not(:disabled)"))?.focus();
  }
}

function closeMenus() {
  for (const list of document.querySelectorAll(".rc-menu")) {
    /** @type {HTMLElement} */ (list).hidden = true;
    document.querySelector(`[aria-controls="${list.id}"]`)?.setAttribute("aria-expanded", "false");
  }
  state.openMenu = null;
}

/** @type {{act: string, member: Member} | null} */
let pendingMod = null;

/** @param {"mute" | "ban"} act @param {Member} member */
function openModDialog(act, member) {
  pendingMod = { act, member };
  ui.modTitle.textContent = `${act === "mute" ? "Mute" : "Ban"} ${member.name}`;
  ui.modText.textContent =
    act === "mute"
      ? `${member.name} keeps reading but cannot write or type here.`
      : `${member.name} is put out of the room now and cannot join again until the ban ends or is lifted.`;
  ui.modConfirm.textContent = act === "mute" ? "Mute" : "Ban";
  ui.modDuration.value = act === "mute" ? "600" : "";
  ui.modReason.value = "";
  ui.modError.textContent = "";
  ui.modDialog.showModal();
}

async function confirmModDialog() {
  const current = pendingMod;
  const room = state.room;
  if (!current || !room) return;
  const seconds = Number.parseInt(ui.modDuration.value, 10);
  /** @type {{durationSeconds?: number, reason?: string}} */
  const options = {};
  if (Number.isFinite(seconds) && seconds > 0) options.durationSeconds = seconds;
  if (ui.modReason.value.trim()) options.reason = ui.modReason.value.trim();
  const { act, member } = current;
  await moderate(act, () => (act === "mute" ? room.mute(member.user_id, options) : room.ban(member.user_id, options)), member, options.reason);
}

/**
 * Run one moderation act and show its outcome in the room.
 * @param {string} act @param {() => Promise<any>} run @param {Member} [member] @param {string} [reason]
 */
async function moderate(act, run, member, reason) {
  try {
    const done = await run();
    const who = member?.name ?? nameOf(done.target_user);
    const until = done.until ? ` until ${clock(done.until)}` : "";
    const texts = /** @type {Record<string, string>} */ ({
      muted: `You muted ${who}${until}.`,
      unmuted: `You unmuted ${who}.`,
      kicked: `You removed ${who} from the room.`,
      banned: `You banned ${who}${until || " until lifted"}.`,
      unbanned: `You lifted ${who}'s ban.`,
      message_deleted: "You deleted a message.",
    });
    note(texts[done.act] ?? `${done.act} done.`, "mod-result");
    if (done.act === "muted" && done.target_user) state.mutedByMe.add(done.target_user);
    if (done.act === "unmuted" && done.target_user) state.mutedByMe.delete(done.target_user);
    if (done.act === "banned" && done.target_user) addBan({ user_id: done.target_user, name: who, until: done.until, reason });
    if (done.act === "unbanned" && done.target_user) removeBan(done.target_user);
    renderMembers();
  } catch (error) {
    note(`Could not ${act}: ${describeError(error)}`, "mod-result");
  }
}

/** Roles change through the admin API (roomcast has no frame for it): a room admin's page does it here. @param {Member} m @param {string} role */
async function setRole(m, role) {
  try {
    await adminApi("PUT", `/rooms/${encodeURIComponent(state.roomId ?? "")}/members/${encodeURIComponent(m.user_id)}`, { role, by: state.user?.user_id });
    note(`${m.name} is now a ${role}.`, "mod-result");
    await loadRoles();
  } catch (error) {
    note(`Could not change ${m.name}'s role: ${describeError(error)}`, "mod-result");
  }
}

// The Banned list: the admin API has no list of a room's bans yet, so this page keeps the
// bans it made (with the person's name) in localStorage, per room.
/** @returns {{user_id: string, name: string, until?: string, reason?: string}[]} */
function bans() {
  try {
    return JSON.parse(localStorage.getItem(`roomcast-demo:bans:${state.roomId}`) ?? "[]");
  } catch {
    return [];
  }
}

/** @param {any[]} list */
function saveBans(list) {
  try {
    localStorage.setItem(`roomcast-demo:bans:${state.roomId}`, JSON.stringify(list));
  } catch {
    // storage disabled: the list lives as long as the page
  }
}

/** @param {{user_id: string, name: string, until?: string, reason?: string}} ban */
function addBan(ban) {
  saveBans([...bans().filter((b) => b.user_id !== ban.user_id), ban]);
  renderBanned();
}

/** @param {string} userId */
function removeBan(userId) {
  saveBans(bans().filter((b) => b.user_id !== userId));
  renderBanned();
}

function renderBanned() {
  const list = bans().filter((b) => !b.until || Date.parse(b.until) > Date.now());
  const show = state.myRole !== "member" && state.room?.state === "joined" && list.length > 0;
  ui.bannedSection.hidden = !show;
  ui.banned.replaceChildren(
    ...list.map((b) => {
      const unban = /** @type {HTMLButtonElement} */ (el("button", { type: "button", class: "rc-btn rc-quiet rc-small", "data-testid": "unban" }, ["Unban"]));
      unban.addEventListener("click", () => {
        const room = state.room;
        if (room) void moderate("unban", () => room.unban(b.user_id), /** @type {any} */ ({ user_id: b.user_id, name: b.name }));
      });
      return el("li", { class: "rc-row", "data-testid": "banned-user", "data-user-id": b.user_id }, [
        avatar(b.user_id, b.name),
        el("span", { class: "rc-row-main" }, [
          el("span", { class: "rc-row-title" }, [b.name]),
          el("span", { class: "rc-row-sub" }, [b.until ? `until ${clock(b.until)}` : "until lifted"]),
        ]),
        unban,
      ]);
    }),
  );
}

// ------------------------------------------------------------------ actions

async function sendMessage() {
  const room = state.room;
  const text = ui.input.value;
  if (!room || !text.trim()) return;
  ui.input.value = "";
  room.typing(false);
  // Optimistic line keyed by client_msg_id; the ack fills in the server's id and time.
  const clientMsgId = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
  const li = renderMessage({ client_msg_id: clientMsgId, user_id: state.user?.user_id, name: state.user?.name, text }, { pending: true });
  await deliver(li);
}

/** Send (or resend) one line; a resend keeps its client_msg_id, so the room stores it once. @param {HTMLElement} li */
async function deliver(li) {
  const room = state.room;
  const clientMsgId = li.dataset.clientMsgId;
  const text = li.querySelector(".text")?.textContent ?? "";
  if (!room || !clientMsgId) return;
  setMessageState(li, "pending");
  try {
    const ack = await room.send(text, { clientMsgId });
    confirmMessage(li, ack.message);
    if (ack.duplicate) log(`resend of ${clientMsgId}: already stored, not shown twice`);
  } catch (error) {
    setMessageState(li, "failed", describeError(error));
    log(`send failed: ${describeError(error)}`);
  }
}

async function loadOlder() {
  const room = state.room;
  if (!room || room.olderCursor === null) return;
  ui.loadOlder.disabled = true;
  try {
    const messages = await room.loadOlder({ limit: OLDER_PAGE });
    // Oldest first: each goes above what was the top line, so the page keeps its order.
    const top = ui.messages.firstChild;
    const keep = ui.timeline.scrollHeight - ui.timeline.scrollTop;
    for (const message of messages) renderMessage(message, { before: top });
    ui.timeline.scrollTop = ui.timeline.scrollHeight - keep;
    setOlderCursor();
    log(`loaded ${messages.length} older message(s)${room.olderCursor ? "" : "; that is the start"}`);
  } catch (error) {
    note(`Could not load older messages: ${describeError(error)}`);
  } finally {
    ui.loadOlder.disabled = room.state !== "joined";
  }
}

/** Cut the socket as a network drop would (no leave): the client reconnects, rejoins, catches up. */
function dropConnection() {
  const socket = state.client?.socket;
  if (!socket) return;
  showLog();
  state.caughtUp = 0;
  log("dropping the connection (as a network drop would)");
  socket.close(4000, "demo: connection dropped");
}

function showLog() {
  ui.logPanel.open = true;
}

/** Stop everything about the shown room (switching rooms, going back to the list). @param {string} why */
function endRoom(why) {
  const client = state.client;
  const roomId = state.roomId;
  state.client = null;
  state.room = null;
  clearInterval(state.rolesTimer);
  if (client) {
    const room = roomId ? client.room(roomId) : null;
    if (room && room.state === "joined") void room.leave().catch((error) => log(`leave: ${describeError(error)}`));
    // The leave is written before the socket closes.
    setTimeout(() => client.disconnect(), 0);
  }
  /** @type {any} */ (window).roomcastDemo = null;
  window.dispatchEvent(new CustomEvent("roomcast-demo:left", { detail: { roomId, why } }));
}

function leaveRoom() {
  endRoom("leave");
  state.roomId = null;
  ui.roomPanel.hidden = true;
  ui.people.hidden = true;
  ui.setupPanel.hidden = false;
  ui.inviteBanner.hidden = true;
  setStatus("idle", "Not connected");
  history.replaceState(null, "", location.pathname);
  renderLobbySelection();
  void loadLobby();
}

async function closeRoom() {
  ui.closeRoomName.textContent = state.room?.name ?? "";
  ui.closeDialog.showModal();
}

async function confirmClose() {
  const room = state.room;
  if (!room) return;
  try {
    await room.close();
  } catch (error) {
    note(`Could not close the room: ${describeError(error)}`);
  }
}

// ------------------------------------------------------------------ lobby

async function loadLobby() {
  try {
    // The 100 newest rooms, open ones shown (GET /rooms pages newest first).
    const page = await adminApi("GET", "/rooms?limit=100");
    const open = page.rooms.filter((/** @type {any} */ r) => r.state === "open");
    ui.lobbyRooms.replaceChildren(...open.map(lobbyEntry));
    ui.lobbyEmpty.hidden = open.length > 0;
    ui.lobbyEmpty.textContent = "No open rooms yet: create one above.";
  } catch (error) {
    ui.lobbyEmpty.hidden = false;
    ui.lobbyEmpty.textContent = `Could not list rooms: ${describeError(error)}`;
  } finally {
    ui.lobbyLoading.hidden = true;
    state.lobbyLoaded = true;
  }
}

/** @param {any} room */
function lobbyEntry(room) {
  const users = room.stats?.current_users ?? 0;
  const button = el("button", { type: "button", class: "rc-row", "data-testid": "lobby-join", title: `Open ${room.name}` }, [
    avatar(room.room_id, room.name),
    el("span", { class: "rc-row-main" }, [
      el("span", { class: "rc-row-title" }, [room.name]),
      el("span", { class: "rc-row-sub", "data-testid": "lobby-room-detail" }, [`${users} ${users === 1 ? "person" : "people"} here · ${clock(room.created_at)}`]),
    ]),
  ]);
  button.addEventListener("click", () => {
    ui.setupError.textContent = "";
    if (room.room_id === state.roomId && state.room?.state === "joined") return;
    Promise.resolve()
      .then(() => join(room.room_id, readUser()))
      .catch(showSetupError);
  });
  const li = el("li", { "data-testid": "lobby-room", "data-room-id": room.room_id }, [button]);
  if (room.room_id === state.roomId) button.setAttribute("aria-current", "true");
  return li;
}

function renderLobbySelection() {
  for (const li of ui.lobbyRooms.querySelectorAll('[data-testid="lobby-room"]')) {
    const button = li.querySelector("button");
    if (li.dataset.roomId === state.roomId) button?.setAttribute("aria-current", "true");
    else button?.removeAttribute("aria-current");
  }
}

function startLobby() {
  clearInterval(state.lobbyTimer);
  void loadLobby();
  state.lobbyTimer = setInterval(() => void loadLobby(), LOBBY_REFRESH_MS);
}

/** Opened from an invite link by a tab with no identity yet: name yourself, then join. @param {string} roomId */
async function showInvite(roomId) {
  ui.roomId.value = roomId;
  ui.inviteBanner.hidden = false;
  ui.inviteBanner.textContent = "You were invited to a room. Choose a display name, then press Join.";
  ui.userName.focus();
  try {
    const room = await adminApi("GET", `/rooms/${encodeURIComponent(roomId)}`);
    ui.inviteBanner.replaceChildren(
      room.state === "open" ? `You were invited to “${room.name}”. Choose a display name, then join.` : `The room “${room.name}” you were invited to is closed.`,
    );
    if (room.state === "open") {
      const go = el("button", { type: "button", class: "rc-btn rc-small", "data-testid": "invite-join" }, ["Join"]);
      go.addEventListener("click", () => {
        ui.setupError.textContent = "";
        Promise.resolve()
          .then(() => join(roomId, readUser()))
          .catch(showSetupError);
      });
      ui.inviteBanner.append(" ", go);
    }
  } catch (error) {
    ui.inviteBanner.textContent = `The invite's room: ${describeError(error)}`;
  }
}

/** @param {unknown} error */
function showSetupError(error) {
  const code = /** @type {any} */ (error)?.code;
  const until = /** @type {any} */ (error)?.frame?.until;
  const friendly = /** @type {Record<string, string>} */ ({
    banned: `You are banned from this room${until ? ` until ${clock(until)}` : ""}.`,
    room_not_found: "There is no such room (it may have been deleted, or the runtime restarted with a fresh state).",
    room_closed: "This room is closed.",
    members_only: "This room is for its members only, and you are not on its list.",
  });
  ui.setupError.textContent = friendly[code] ? `${friendly[code]} (${describeError(error)})` : describeError(error);
  if (!state.client) setStatus("idle", "Not connected");
}

/** @param {string} text */
function log(text) {
  ui.log.append(el("li", {}, [`${new Date().toISOString().slice(11, 23)} ${text}`]));
  while (ui.log.childElementCount > 300) ui.log.firstElementChild?.remove();
}

/** @param {string} text */
function cap(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// ------------------------------------------------------------------ start

function start() {
  const params = new URLSearchParams(location.search);
  const saved = savedIdentity();
  const explicit = params.get("user");
  ui.userId.value = explicit ?? saved?.user_id ?? newUserId();
  ui.userName.value = params.get("name") ?? (explicit ? "" : saved?.name ?? "");
  ui.roomId.value = params.get("room") ?? "";
  if (saved && !explicit) showIdentity(saved);

  ui.createForm.addEventListener("submit", (/** @type {Event} */ event) => {
    event.preventDefault();
    ui.setupError.textContent = "";
    createAndJoin().catch(showSetupError);
  });
  ui.joinForm.addEventListener("submit", (/** @type {Event} */ event) => {
    event.preventDefault();
    ui.setupError.textContent = "";
    Promise.resolve()
      .then(() => join(ui.roomId.value.trim(), readUser()))
      .catch(showSetupError);
  });
  ui.sendForm.addEventListener("submit", (/** @type {Event} */ event) => {
    event.preventDefault();
    void sendMessage();
  });
  ui.input.addEventListener("input", () => state.room?.typing(ui.input.value.length > 0));
  ui.closeRoom.addEventListener("click", () => void closeRoom());
  ui.closeDialog.addEventListener("close", () => {
    if (ui.closeDialog.returnValue === "confirm") void confirmClose();
  });
  ui.modDialog.addEventListener("close", () => {
    if (ui.modDialog.returnValue === "confirm") void confirmModDialog();
    pendingMod = null;
  });
  ui.leave.addEventListener("click", () => leaveRoom());
  ui.copyLink.addEventListener("click", () => {
    const link = inviteLink(state.roomId ?? "");
    ui.inviteLink.select();
    navigator.clipboard?.writeText(link).then(
      () => note("Invite link copied: open it in another browser window to join as someone else."),
      () => log(`invite link: ${link}`),
    );
  });
  ui.inviteLink.addEventListener("focus", () => ui.inviteLink.select());
  ui.drop.addEventListener("click", () => dropConnection());
  ui.toggleLog.addEventListener("click", () => (ui.logPanel.open = !ui.logPanel.open));
  ui.loadOlder.addEventListener("click", () => void loadOlder());
  ui.lobbyRefresh.addEventListener("click", () => void loadLobby());
  ui.roomMenuButton.addEventListener("click", (/** @type {Event} */ event) => {
    event.stopPropagation();
    toggleMenu(ui.roomMenuButton, ui.roomMenu);
  });
  // A chosen item closes its menu (each item's own handler runs first).
  ui.roomMenu.addEventListener("click", (/** @type {Event} */ event) => {
    if (/** @type {HTMLElement} */ (event.target).closest("button")) closeMenus();
  });
  document.addEventListener("click", (event) => {
    if (state.openMenu && !state.openMenu.contains(/** @type {Node} */ (event.target))) closeMenus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeMenus();
  });
  // Closing the tab or reloading ends the socket at once, so the others do not see a
  // stale "2 tabs" until the server notices.
  window.addEventListener("pagehide", () => state.client?.disconnect(1000, "page closed"));

  // The buttons start disabled so nothing submits natively before these handlers exist.
  $("create-room").disabled = false;
  $("join-room").disabled = false;
  document.documentElement.dataset.ready = "true";

  startLobby();
  const room = params.get("room");
  if (room && (explicit || saved) && params.get("autojoin") !== "0") {
    join(room, readUser()).catch(showSetupError);
  } else if (room && !explicit && !saved) {
    // An invite reaching a tab with no identity: a new user, who names themselves first.
    void showInvite(room);
  }
}

start();
