// The demo page's server-side messaging panel (<section id="server-panel">): buttons that
// call the admin API to publish a server message to the room, to notify this user (kept
// in the inbox), and to have a "bot" stream a reply chunk by chunk; the notifications and
// the inbox with its unread count; the bot's reply as it is assembled.
//
// Like demo.js it calls the local runtime's admin API with the key from /config.json - a
// local-only shortcut: in production your backend (or bot) calls the admin API. It starts
// when demo.js has joined a room ("roomcast-demo:joined") and exposes its state as
// window.roomcastServer for tests and the console.

const panel = document.getElementById("server-panel");
const BOT = { user_id: "demo-bot", name: "Demo bot", kind: "bot" };
const SYSTEM = { user_id: "system", name: "System", kind: "system" };
const REPLY =
  "Hello! I am a bot. This reply is streamed: each chunk is sent with a sequence number, " +
  "some of them out of order, and the client puts them back in order as they arrive.";
const CHUNK_DELAY_MS = 60;

/** @type {any} */
let demo = null;
const state = {
  /** @type {string[]} the bot reply's text each time it grew (for tests) */
  streamTexts: [],
  /** @type {any[]} notifications received */
  notifications: [],
  unread: /** @type {number | null} */ (null),
};

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

const button = (/** @type {string} */ id, /** @type {string} */ label) =>
  /** @type {HTMLButtonElement} */ (el("button", { id, "data-testid": id, type: "button", disabled: "" }, [label]));

const ui = {
  serverMessage: button("server-message", "Post a server message"),
  notify: button("notify-me", "Notify me"),
  bot: button("ask-bot", "Ask the bot (streamed)"),
  inbox: button("open-inbox", "Inbox"),
  unread: el("span", { id: "unread-count", "data-testid": "unread-count" }, ["0"]),
  notifications: el("ol", { id: "notifications", "data-testid": "notifications", "aria-label": "Notifications" }),
  inboxList: el("ol", { id: "inbox-items", "data-testid": "inbox-items", "aria-label": "Inbox" }),
  error: el("p", { id: "server-error", "data-testid": "server-error", class: "error", role: "alert" }),
};

/** @param {string} method @param {string} path @param {any} [body] */
async function adminApi(method, path, body) {
  const cfg = demo.config;
  const response = await fetch(cfg.admin_api_url.replace(/\/$/, "") + path, {
    method,
    headers: { "content-type": "application/json", "x-api-key": cfg.admin_key ?? "" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${data.code ?? response.status}: ${data.message ?? response.statusText}`);
  return data;
}

const room = () => encodeURIComponent(demo.roomId);

async function postServerMessage() {
  await adminApi("POST", `/rooms/${room()}/messages`, {
    sender: SYSTEM,
    text: `Server notice at ${new Date().toLocaleTimeString()}`,
    client_msg_id: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()),
  });
}

async function notifyMe() {
  await adminApi("POST", `/users/${encodeURIComponent(demo.user.user_id)}/notifications`, {
    type: "demo.ping",
    data: { text: `You were pinged at ${new Date().toLocaleTimeString()}` },
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
    ui.error.textContent = "";
    action().catch((error) => {
      ui.error.textContent = error instanceof Error ? error.message : String(error);
    });
  };
}

function renderUnread() {
  ui.unread.textContent = String(state.unread ?? 0);
}

/** @param {any} detail a "stream" event */
function onStream(detail) {
  const messages = document.getElementById("messages");
  if (!messages || detail.room_id !== demo?.roomId) return;
  let line = messages.querySelector(`[data-testid="stream"][data-message-id="${detail.message_id}"]`);
  if (detail.done) {
    line?.remove(); // demo.js renders the final message from its "message" event
    state.streamTexts.push(detail.text);
    return;
  }
  if (!line) {
    line = el("li", { "data-testid": "stream", "data-message-id": detail.message_id, class: "streaming" }, [
      el("span", { class: "who" }, [detail.name]),
      el("span", { class: "text", "data-testid": "stream-text" }),
    ]);
    messages.append(line);
  }
  /** @type {HTMLElement} */ (line.querySelector('[data-testid="stream-text"]')).textContent = `${detail.text}▍`;
  state.streamTexts.push(detail.text);
}

async function openInbox() {
  const page = await demo.client.inbox({ limit: 20 });
  const unread = page.items.filter((/** @type {any} */ i) => !i.read).map((/** @type {any} */ i) => i.id);
  ui.inboxList.replaceChildren(
    ...page.items.map((/** @type {any} */ item) =>
      el("li", { "data-testid": "inbox-item", "data-read": String(item.read) }, [item.data?.text ?? item.type]),
    ),
  );
  if (unread.length) await demo.client.inbox({ limit: 0, markRead: unread });
}

/** @param {any} detail window.roomcastDemo */
function start(detail) {
  demo = detail;
  const client = detail.client;
  const on = (/** @type {string} */ type, /** @type {(d: any) => void} */ fn) =>
    client.addEventListener(type, (/** @type {CustomEvent} */ event) => {
      if (demo?.client === client) fn(event.detail);
    });
  on("stream", onStream);
  on("notification", (d) => {
    state.notifications.push(d.notification);
    ui.notifications.append(
      el("li", { "data-testid": "notification", "data-type": d.notification.type }, [
        d.notification.data?.text ?? d.notification.type,
      ]),
    );
  });
  on("unread", (d) => {
    state.unread = d.unread;
    renderUnread();
  });
  state.unread = client.unread;
  renderUnread();
  for (const b of [ui.serverMessage, ui.notify, ui.bot, ui.inbox]) b.disabled = false;
}

if (panel) {
  panel.append(
    el("h3", {}, ["Server-side messaging"]),
    el("div", { class: "actions" }, [ui.serverMessage, ui.notify, ui.bot, ui.inbox]),
    el("p", { class: "muted" }, ["Unread in your inbox: ", ui.unread]),
    ui.error,
    el("h4", {}, ["Notifications"]),
    ui.notifications,
    el("h4", {}, ["Inbox"]),
    ui.inboxList,
  );
  ui.serverMessage.addEventListener("click", guarded(postServerMessage));
  ui.notify.addEventListener("click", guarded(notifyMe));
  ui.bot.addEventListener("click", guarded(askBot));
  ui.inbox.addEventListener("click", guarded(openInbox));
  window.addEventListener("roomcast-demo:joined", (event) => start(/** @type {CustomEvent} */ (event).detail));
  // Left or closed: nothing here acts on the room any more.
  for (const name of ["roomcast-demo:left", "roomcast-demo:closed"]) {
    window.addEventListener(name, () => {
      demo = null;
      for (const b of [ui.serverMessage, ui.notify, ui.bot, ui.inbox]) b.disabled = true;
    });
  }
  /** @type {any} */ (window).roomcastServer = state;
}
