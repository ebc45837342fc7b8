// @ts-check
// The demo's server side, done from the page: the room's ⋯ menu posts a server message,
// sends this user a notification (kept in the inbox), and has a bot stream a reply chunk
// by chunk (app.js shows it growing in place); the bell in the header shows the unread
// count, the notifications received live, and the inbox (opening it marks all read).
//
// Like app.js it calls the local runtime's admin API with the key from /config.json - a
// local-only shortcut: in production your backend (or bot) calls the admin API. State for
// tests and the console: window.roomcastServer.

import { adminApi } from "./app.js";
import { clock, describeError, el } from "./ui.js";

const BOT = { user_id: "demo-bot", name: "Demo bot", kind: "bot" };
const SYSTEM = { user_id: "system", name: "System", kind: "system" };
const REPLY =
  "Hello! I am a bot. This reply is streamed: each chunk is sent with a sequence number, " +
  "some of them out of order, and the client puts them back in order as they arrive.";
const CHUNK_DELAY_MS = 60;

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
const ui = {
  serverMessage: $("server-message"),
  notify: $("notify-me"),
  bot: $("ask-bot"),
  bell: $("open-inbox"),
  panel: $("bell-panel"),
  unread: $("unread-count"),
  notifications: $("notifications"),
  notificationsEmpty: $("notifications-empty"),
  inbox: $("inbox-items"),
  inboxEmpty: $("inbox-empty"),
};

/** @type {any} */
let demo = null;
const state = {
  /** @type {string[]} the bot reply's text each time it grew (for tests) */
  streamTexts: [],
  /** @type {any[]} notifications received */
  notifications: [],
  unread: /** @type {number | null} */ (null),
};
/** @type {(() => void)[]} */
let unsubscribe = [];

const room = () => encodeURIComponent(demo.roomId);

async function postServerMessage() {
  await adminApi("POST", `/rooms/${room()}/messages`, {
    sender: SYSTEM,
    text: `Server notice at ${clock(Date.now())}: this message came from the admin API, not a member.`,
    client_msg_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()),
  });
}

async function notifyMe() {
  await adminApi("POST", `/users/${encodeURIComponent(demo.user.user_id)}/notifications`, {
    type: "demo.ping",
    data: { text: `You were pinged at ${clock(Date.now())}` },
    store: true,
    room_id: demo.roomId,
  });
}

/** The bot: open a stream, send the reply in chunks (pairs swapped, one sent twice), end it. */
async function askBot() {
  const stream = await adminApi("POST", `/rooms/${room()}/streams`, { sender: BOT });
  const words = REPLY.match(/\S+\s*/g) ?? [REPLY];
  const chunks = words.map((text, seq) => ({ seq, text }));
  const order = [];
  for (let i = 0; i < chunks.length; i += 2) {
    if (chunks[i + 1]) order.push(chunks[i + 1]);
    order.push(chunks[i]);
  }
  order.splice(3, 0, chunks[1]); // a repeat: ignored by the server
  const path = `/rooms/${room()}/streams/${stream.stream_id}`;
  for (const chunk of order) {
    await adminApi("POST", `${path}/chunks`, chunk);
    await new Promise((resolve) => setTimeout(resolve, CHUNK_DELAY_MS));
  }
  await adminApi("POST", `${path}/end`);
}

/** @param {() => Promise<void>} action */
function guarded(action) {
  return () => {
    action().catch((error) => {
      const messages = $("messages");
      messages?.append(el("li", { class: "note", "data-testid": "server-error" }, [`The server tool failed: ${describeError(error)}`]));
    });
  };
}

function renderUnread() {
  const count = state.unread ?? 0;
  ui.unread.textContent = String(count);
  ui.unread.dataset.count = String(count);
  ui.bell.title = count ? `Notifications (${count} unread)` : "Notifications";
}

/** @param {any} n */
function noteText(n) {
  return n.data?.text ?? n.type;
}

async function openInbox() {
  if (!ui.panel.hidden) {
    ui.panel.hidden = true;
    ui.bell.setAttribute("aria-expanded", "false");
    return;
  }
  ui.panel.hidden = false;
  ui.bell.setAttribute("aria-expanded", "true");
  if (!demo) return;
  const page = await demo.client.inbox({ limit: 20 });
  const unread = page.items.filter((/** @type {any} */ i) => !i.read).map((/** @type {any} */ i) => i.id);
  ui.inbox.replaceChildren(
    ...page.items.map((/** @type {any} */ item) =>
      el("li", { "data-testid": "inbox-item", "data-read": String(item.read) }, [noteText(item), el("time", {}, [clock(item.sent_at)])]),
    ),
  );
  ui.inboxEmpty.hidden = page.items.length > 0;
  if (unread.length) await demo.client.inbox({ limit: 0, markRead: unread });
}

/** @param {any} detail window.roomcastDemo */
function start(detail) {
  for (const off of unsubscribe) off();
  demo = detail;
  const client = detail.client;
  unsubscribe = [
    detail.room.on("delta", (/** @type {any} */ d) => state.streamTexts.push(d.text)),
    client.on("notification", (/** @type {any} */ d) => {
      state.notifications.push(d.notification);
      ui.notifications.prepend(
        el("li", { "data-testid": "notification", "data-type": d.notification.type }, [noteText(d.notification), el("time", {}, [clock(d.notification.sent_at)])]),
      );
      ui.notificationsEmpty.hidden = true;
    }),
    client.on("unread", (/** @type {any} */ d) => {
      state.unread = d.unread;
      renderUnread();
    }),
  ];
  state.unread = client.unread;
  renderUnread();
  for (const b of [ui.serverMessage, ui.notify, ui.bot, ui.bell]) b.disabled = false;
}

ui.serverMessage.addEventListener("click", guarded(postServerMessage));
ui.notify.addEventListener("click", guarded(notifyMe));
ui.bot.addEventListener("click", guarded(askBot));
ui.bell.addEventListener("click", (/** @type {Event} */ event) => {
  event.stopPropagation();
  guarded(openInbox)();
});
document.addEventListener("click", (event) => {
  if (!ui.panel.hidden && !ui.panel.contains(/** @type {Node} */ (event.target))) {
    ui.panel.hidden = true;
    ui.bell.setAttribute("aria-expanded", "false");
  }
});
window.addEventListener("roomcast-demo:joined", (event) => start(/** @type {CustomEvent} */ (event).detail));
// Left or closed: nothing here acts on the room any more.
for (const name of ["roomcast-demo:left", "roomcast-demo:closed"]) {
  window.addEventListener(name, () => {
    demo = null;
    for (const off of unsubscribe) off();
    unsubscribe = [];
    for (const b of [ui.serverMessage, ui.notify, ui.bot]) b.disabled = true;
  });
}
/** @type {any} */ (window).roomcastServer = state;
