// The demo page's moderation (issue 14) in <section id="moderation-panel">: a moderator's
// controls (pick a member; mute, unmute, kick, ban with an optional duration; a delete
// button on each message) and what the affected user sees (a banner for kicked, muted,
// unmuted and disconnected; deleted messages turned into tombstones). It starts when
// demo.js has joined a room ("roomcast-demo:joined", window.roomcastDemo = {client,
// roomId, user}). The server decides who may moderate: everyone sees the controls, and a
// user who is not a moderator is answered not_moderator (shown in #mod-result).

const panel = document.getElementById("moderation-panel");
const messages = document.getElementById("messages");

/** @type {any} */
let demo = null;

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

/** @param {string} id @param {string} label */
function button(id, label) {
  return /** @type {HTMLButtonElement} */ (el("button", { id, "data-testid": id, type: "button" }, [label]));
}

const ui = {
  target: /** @type {HTMLSelectElement} */ (el("select", { id: "mod-target", "data-testid": "mod-target" })),
  duration: /** @type {HTMLInputElement} */ (
    el("input", { id: "mod-duration", "data-testid": "mod-duration", type: "number", min: "1",
      placeholder: "seconds (empty: until lifted)" })
  ),
  reason: /** @type {HTMLInputElement} */ (
    el("input", { id: "mod-reason", "data-testid": "mod-reason", maxlength: "500", placeholder: "reason (optional)" })
  ),
  mute: button("mod-mute", "Mute"),
  unmute: button("mod-unmute", "Unmute"),
  kick: button("mod-kick", "Kick"),
  ban: button("mod-ban", "Ban"),
  unban: button("mod-unban", "Unban"),
  result: el("p", { id: "mod-result", "data-testid": "mod-result", role: "status", class: "muted" }),
  banner: el("p", { id: "moderation-banner", "data-testid": "moderation-banner", class: "banner", role: "alert" }),
};

if (panel) {
  panel.hidden = true;
  panel.append(
    el("h3", {}, ["Moderation ", el("span", { class: "muted" }, ["(the room's moderators and admins; anyone else is refused not_moderator)"])]),
    ui.banner,
    el("div", { class: "row" }, [ui.target, ui.duration, ui.reason]),
    el("div", { class: "row" }, [ui.mute, ui.unmute, ui.kick, ui.ban, ui.unban]),
    ui.result,
  );
  ui.banner.hidden = true;
}

function refreshTargets() {
  if (!demo) return;
  const chosen = ui.target.value;
  const others = demo.client.members(demo.roomId).filter((/** @type {any} */ m) => m.user_id !== demo.user.user_id);
  ui.target.replaceChildren(...others.map((/** @type {any} */ m) => el("option", { value: m.user_id }, [m.name])));
  if (others.some((/** @type {any} */ m) => m.user_id === chosen)) ui.target.value = chosen;
}

/** @param {string} text @param {string} kind */
function showBanner(text, kind) {
  ui.banner.textContent = text;
  ui.banner.dataset.kind = kind;
  ui.banner.hidden = false;
}

/** @param {unknown} error */
function describe(error) {
  const e = /** @type {any} */ (error);
  return e && e.code ? `${e.code}: ${e.message}` : String(error);
}

/** @param {string} act @param {() => Promise<any>} run */
async function moderate(act, run) {
  ui.result.textContent = `${act}…`;
  try {
    const done = await run();
    const until = done.until ? ` until ${done.until}` : "";
    ui.result.textContent = `${done.act} ${done.target_user ?? ""}${until}`.trim();
    ui.result.dataset.outcome = "ok";
  } catch (error) {
    ui.result.textContent = `${act} refused: ${describe(error)}`;
    ui.result.dataset.outcome = "refused";
  }
}

/** @returns {{durationSeconds?: number, reason?: string}} */
function options() {
  /** @type {any} */
  const result = {};
  const seconds = Number.parseInt(ui.duration.value, 10);
  if (Number.isFinite(seconds) && seconds > 0) result.durationSeconds = seconds;
  if (ui.reason.value.trim()) result.reason = ui.reason.value.trim();
  return result;
}

/** @param {HTMLButtonElement} control @param {string} act @param {(client: any, room: string, user: string) => Promise<any>} call */
function wireControl(control, act, call) {
  control.addEventListener("click", () => {
    if (!demo || !ui.target.value) return;
    void moderate(act, () => call(demo.client, demo.roomId, ui.target.value));
  });
}

wireControl(ui.mute, "mute", (c, r, u) => c.mute(r, u, options()));
wireControl(ui.unmute, "unmute", (c, r, u) => c.unmute(r, u));
wireControl(ui.kick, "kick", (c, r, u) => c.kick(r, u, { reason: options().reason }));
wireControl(ui.ban, "ban", (c, r, u) => c.ban(r, u, options()));
wireControl(ui.unban, "unban", (c, r, u) => c.unban(r, u));

/** A tombstone in place of the message's text (demo.js marks those from history likewise). */
function markDeleted(/** @type {Element} */ li, /** @type {string} */ by) {
  li.setAttribute("data-deleted", "true");
  const text = li.querySelector('[data-testid="message-text"]');
  if (text) text.textContent = `(deleted by ${by})`;
  li.querySelector('[data-testid="delete-message"]')?.remove();
}

/** A delete button on every stored message that is not a tombstone yet. */
function addDeleteButtons() {
  if (!demo || !messages) return;
  for (const li of messages.querySelectorAll('[data-testid="message"][data-message-id]:not([data-deleted])')) {
    if (li.querySelector('[data-testid="delete-message"]')) continue;
    const control = el("button", { type: "button", class: "link", "data-testid": "delete-message", title: "Delete (moderators)" }, ["✕"]);
    control.addEventListener("click", () => {
      const id = li.getAttribute("data-message-id");
      if (demo && id) void moderate("delete", () => demo.client.deleteMessage(demo.roomId, id));
    });
    li.append(control);
  }
}

if (messages) new MutationObserver(addDeleteButtons).observe(messages, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-message-id"] });

/** @param {any} client */
function wire(client) {
  /** @param {string} type @param {(frame: any) => void} fn */
  const on = (type, fn) => client.addEventListener(type, (/** @type {any} */ event) => {
    if (demo && demo.client === client) fn(event.detail);
  });
  on("presence", refreshTargets);
  on("muted", (f) => {
    const until = f.until ? ` until ${new Date(f.until).toLocaleTimeString()}` : "";
    showBanner(`You are muted by ${f.by}${until}${f.reason ? `: ${f.reason}` : ""}. You can still read.`, "muted");
  });
  on("unmuted", (f) => showBanner(`${f.by} unmuted you.`, "unmuted"));
  on("kicked", (f) => {
    const what = { kick: "kicked out of", ban: "banned from", removed: "removed from" }[/** @type {"kick"} */ (f.cause)] ?? "removed from";
    const until = f.until ? ` until ${new Date(f.until).toLocaleTimeString()}` : "";
    showBanner(`You were ${what} this room${f.by ? ` by ${f.by}` : ""}${until}${f.reason ? `: ${f.reason}` : ""}.`, f.cause);
    for (const id of ["message-input", "send-button"]) {
      const node = /** @type {HTMLInputElement | null} */ (document.getElementById(id));
      if (node) node.disabled = true;
    }
  });
  on("message.deleted", (f) => {
    const li = messages?.querySelector(`[data-message-id="${CSS.escape(f.message_id)}"]`);
    if (li) markDeleted(li, f.deleted_by);
  });
  on("disconnected", (f) => showBanner(`The server disconnected you: ${f.reason}.`, "disconnected"));
}

window.addEventListener("roomcast-demo:joined", (event) => {
  demo = /** @type {CustomEvent} */ (event).detail;
  if (panel) panel.hidden = false;
  ui.banner.hidden = true;
  ui.result.textContent = "";
  wire(demo.client);
  refreshTargets();
  addDeleteButtons();
});
window.addEventListener("roomcast-demo:left", () => {
  demo = null;
  if (panel) panel.hidden = true;
});
// Nothing to moderate in a closed room: the controls go, and so do the delete buttons.
window.addEventListener("roomcast-demo:closed", () => {
  demo = null;
  if (panel) panel.hidden = true;
  for (const control of messages?.querySelectorAll('[data-testid="delete-message"]') ?? []) control.remove();
});
