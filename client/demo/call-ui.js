// The demo page's 1:1 call UI (client/calls.js) in <section id="call-panel">: pick a
// member, call (audio or video), accept or reject an incoming call, hang up, and see both
// videos. It starts when demo.js has joined a room (event "roomcast-demo:joined", with
// window.roomcastDemo = {client, roomId, user}) and exposes its CallManager as
// window.roomcastCalls for tests and the console. The panel shows only while a call is
// possible (an open room with someone else in it) or running, the videos only during a
// video call, and nothing of it stays after the room closes or is left.

import { CallManager, newCallId } from "../calls.js";

const panel = document.getElementById("call-panel");

/** @type {CallManager | null} */
let manager = null;
/** @type {any} */
let demo = null;
/** @type {string | null} */
let currentCallId = null;
/** The room was closed or left: no call can start any more. */
let roomOver = false;

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

const ui = {
  peer: /** @type {HTMLSelectElement} */ (el("select", { id: "call-peer", "data-testid": "call-peer" })),
  media: /** @type {HTMLSelectElement} */ (
    el("select", { id: "call-media", "data-testid": "call-media" }, [
      el("option", { value: "video" }, ["Video"]),
      el("option", { value: "audio" }, ["Audio only"]),
    ])
  ),
  start: /** @type {HTMLButtonElement} */ (
    el("button", { id: "call-start", "data-testid": "call-start", type: "button" }, ["Call"])
  ),
  incoming: el("div", { id: "call-incoming", "data-testid": "call-incoming", class: "banner", role: "alert" }),
  incomingText: el("span", { "data-testid": "call-incoming-text" }),
  accept: /** @type {HTMLButtonElement} */ (
    el("button", { id: "call-accept", "data-testid": "call-accept", type: "button" }, ["Accept"])
  ),
  reject: /** @type {HTMLButtonElement} */ (
    el("button", { id: "call-reject", "data-testid": "call-reject", type: "button", class: "danger" }, ["Reject"])
  ),
  hangup: /** @type {HTMLButtonElement} */ (
    el("button", { id: "call-hangup", "data-testid": "call-hangup", type: "button", class: "danger" }, ["Hang up"])
  ),
  state: el("p", { id: "call-state", "data-testid": "call-state", "data-state": "idle", role: "status", "aria-live": "polite" }, [
    "No call",
  ]),
  localVideo: /** @type {HTMLVideoElement} */ (
    el("video", { id: "call-local-video", "data-testid": "call-local-video", autoplay: "", playsinline: "", "aria-label": "Your camera" })
  ),
  remoteVideo: /** @type {HTMLVideoElement} */ (
    el("video", { id: "call-remote-video", "data-testid": "call-remote-video", autoplay: "", playsinline: "", "aria-label": "The other side" })
  ),
};
ui.videos = el("div", { class: "call-videos", "data-testid": "call-videos", style: "display:flex;gap:.5rem;margin-top:.5rem" }, [
  ui.localVideo,
  ui.remoteVideo,
]);
ui.localVideo.muted = true; // never play our own microphone back
// Sized here rather than in demo.css, so the call panel is self-contained.
for (const video of [ui.localVideo, ui.remoteVideo]) {
  Object.assign(video.style, { width: "320px", maxWidth: "45%", aspectRatio: "4 / 3", background: "#111", borderRadius: "6px" });
}

function render() {
  if (!panel) return;
  ui.incoming.replaceChildren(ui.incomingText, " ", ui.accept, " ", ui.reject);
  panel.replaceChildren(
    el("h2", { id: "call-title" }, ["Call a member"]),
    el("div", { class: "call-controls", style: "display:flex;flex-wrap:wrap;gap:.5rem;align-items:center" }, [
      el("label", { for: "call-peer" }, ["Member"]),
      ui.peer,
      el("label", { for: "call-media" }, ["Media"]),
      ui.media,
      ui.start,
      ui.hangup,
    ]),
    ui.incoming,
    ui.state,
    ui.videos,
  );
  panel.setAttribute("aria-labelledby", "call-title");
  panel.dataset.testid = "call-panel";
  panel.hidden = true;
  ui.incoming.hidden = true;
  ui.hangup.disabled = true;
}

/** @param {any[]} members */
function renderMembers(members) {
  const me = demo?.user?.user_id;
  const selected = ui.peer.value;
  const others = members.filter((m) => m.user_id !== me);
  ui.peer.replaceChildren(
    ...others.map((m) => el("option", { value: m.user_id }, [`${m.name} (${m.user_id})`])),
  );
  if (others.some((m) => m.user_id === selected)) ui.peer.value = selected;
  syncButtons();
}

function syncButtons() {
  const active = manager?.active;
  ui.start.disabled = roomOver || !manager || Boolean(active) || ui.peer.options.length === 0;
  ui.hangup.disabled = !active || active.state === "ringing";
  if (!panel) return;
  const possible = !roomOver && Boolean(manager) && ui.peer.options.length > 0;
  panel.hidden = !(possible || active);
  ui.videos.hidden = !(active && active.media === "video");
}

/** @param {string} state @param {string} text */
function showState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
}

/** @param {any} detail the CallManager "state" event */
function describe(detail) {
  const who = detail.peer?.name ?? detail.peer?.user_id ?? "them";
  switch (detail.state) {
    case "invited":
      return `Calling ${who}…`;
    case "ringing":
      return `${who} is calling`;
    case "accepted":
      return `Connecting to ${who}…`;
    case "connected":
      return `In a call with ${who}`;
    case "failed":
      return `Call failed: ${detail.reason ?? "unknown"}`;
    default:
      return `Call ended (${detail.status ?? "ended"}${detail.reason ? `, ${detail.reason}` : ""})`;
  }
}

/** @param {any} detail */
function start(detail) {
  demo = detail;
  manager?.dispose();
  manager = new CallManager(detail.client, { iceServers: detail.config?.iceServers ?? [] });
  /** @type {any} */ (window).roomcastCalls = manager;
  roomOver = false;
  renderMembers(detail.client.members(detail.roomId));
  detail.client.addEventListener("presence", (/** @type {any} */ e) => {
    if (e.detail.room_id === demo?.roomId) renderMembers(e.detail.members);
  });

  manager.addEventListener("incoming", (/** @type {any} */ e) => {
    if (manager?.active && manager.active.callId !== e.detail.call_id) return;
    currentCallId = e.detail.call_id;
    const who = e.detail.from?.name ?? e.detail.from?.user_id;
    ui.incomingText.textContent = `${who} is calling (${e.detail.media})`;
    ui.incoming.hidden = false;
    // The manager's "ringing" state event came before this one: show it now.
    showState("ringing", `${who} is calling`);
    syncButtons();
  });
  manager.addEventListener("state", (/** @type {any} */ e) => {
    if (e.detail.call_id !== currentCallId) return;
    showState(e.detail.state, describe(e.detail));
    if (e.detail.state !== "ringing") ui.incoming.hidden = true;
    if (e.detail.state === "ended" || e.detail.state === "failed") {
      ui.remoteVideo.srcObject = null;
      ui.localVideo.srcObject = null;
    }
    syncButtons();
  });
  manager.addEventListener("local-stream", (/** @type {any} */ e) => {
    if (e.detail.call_id === currentCallId) ui.localVideo.srcObject = e.detail.stream;
  });
  manager.addEventListener("remote-stream", (/** @type {any} */ e) => {
    if (e.detail.call_id === currentCallId) ui.remoteVideo.srcObject = e.detail.stream;
  });
  manager.addEventListener("error", (/** @type {any} */ e) => {
    console.warn("call error", e.detail.error);
  });
  showState("idle", "No call");
  syncButtons();
}

ui.start.addEventListener("click", async () => {
  if (!manager || !demo || !ui.peer.value) return;
  ui.start.disabled = true;
  const media = /** @type {"audio"|"video"} */ (ui.media.value);
  try {
    // The call id is chosen here, so its events are followed from the first one.
    currentCallId = newCallId();
    const call = await manager.invite(demo.roomId, ui.peer.value, { media, callId: currentCallId });
    if (call.state === "failed") showState("failed", `Call failed: ${call.reason}`);
  } catch (error) {
    showState("failed", `Call failed: ${/** @type {any} */ (error).code ?? /** @type {any} */ (error).message}`);
  } finally {
    syncButtons();
  }
});

ui.accept.addEventListener("click", async () => {
  if (!manager || !currentCallId) return;
  ui.incoming.hidden = true;
  try {
    await manager.accept(currentCallId);
  } catch (error) {
    showState("failed", `Could not accept: ${/** @type {any} */ (error).code ?? /** @type {any} */ (error).message}`);
  }
});

ui.reject.addEventListener("click", async () => {
  if (!manager || !currentCallId) return;
  ui.incoming.hidden = true;
  await manager.reject(currentCallId).catch(() => {});
});

ui.hangup.addEventListener("click", async () => {
  if (!manager || !currentCallId) return;
  await manager.hangup(currentCallId).catch(() => {});
});

/** The room closed (its calls end on the server too) or this page left it. */
function end() {
  roomOver = true;
  manager?.dispose();
  manager = null;
  /** @type {any} */ (window).roomcastCalls = null;
  ui.incoming.hidden = true;
  ui.localVideo.srcObject = null;
  ui.remoteVideo.srcObject = null;
  ui.peer.replaceChildren();
  syncButtons();
}

render();
window.addEventListener("roomcast-demo:joined", (event) => start(/** @type {CustomEvent} */ (event).detail));
window.addEventListener("roomcast-demo:closed", () => end());
window.addEventListener("roomcast-demo:left", () => end());
if (/** @type {any} */ (window).roomcastDemo) start(/** @type {any} */ (window).roomcastDemo);
