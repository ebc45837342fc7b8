// @ts-check
// The demo's call overlay: one panel for a 1:1 call, by name (client.calls, a CallManager).
// "Call" in the room's header (shown with exactly one other person) or the phone next to a
// person opens it: choose video or audio; the callee's overlay rings with Accept / Reject;
// then both videos and Hang up. It starts with each join (window.roomcastDemo) and exposes
// the CallManager as window.roomcastCalls for tests and the console.

import { newCallId } from "../dist/index.js";
import { el, icon } from "./ui.js";

/** @typedef {import("../dist/index.js").CallManager} CallManager */

const overlay = /** @type {HTMLElement} */ (document.getElementById("call-overlay"));
const headerButton = /** @type {HTMLButtonElement} */ (document.getElementById("call-start"));

/** @type {CallManager | null} */
let manager = null;
/** @type {any} */
let demo = null;
/** @type {string | null} */
let currentCallId = null;
/** @type {{user_id: string, name: string} | null} who the overlay is about */
let peer = null;
/** @type {any[]} */
let others = [];
/** @type {any} */
let timer = null;
/** @type {(() => void)[]} */
let unsubscribe = [];

const ui = {
  title: el("h2", { id: "call-title" }),
  state: el("p", { id: "call-state", "data-testid": "call-state", "data-state": "idle", role: "status", "aria-live": "polite" }),
  incoming: el("div", { id: "call-incoming", "data-testid": "call-incoming", class: "call-actions" }),
  incomingText: el("span", { "data-testid": "call-incoming-text", class: "rc-visually-hidden" }),
  localVideo: /** @type {HTMLVideoElement} */ (el("video", { id: "call-local-video", class: "local", "data-testid": "call-local-video", autoplay: "", playsinline: "", "aria-label": "Your camera" })),
  remoteVideo: /** @type {HTMLVideoElement} */ (el("video", { id: "call-remote-video", "data-testid": "call-remote-video", autoplay: "", playsinline: "", "aria-label": "The other side" })),
  videos: el("div", { class: "call-videos", "data-testid": "call-videos" }),
  choose: el("div", { class: "call-actions", "data-testid": "call-choose" }),
  video: el("button", { type: "button", class: "rc-btn", "data-testid": "call-video" }, [icon("video"), " Video call"]),
  audio: el("button", { type: "button", class: "rc-btn rc-quiet", "data-testid": "call-audio" }, [icon("mic"), " Audio call"]),
  cancel: el("button", { type: "button", class: "rc-btn rc-quiet", "data-testid": "call-cancel" }, ["Cancel"]),
  accept: el("button", { id: "call-accept", type: "button", class: "rc-btn", "data-testid": "call-accept" }, ["Accept"]),
  reject: el("button", { id: "call-reject", type: "button", class: "rc-btn rc-danger", "data-testid": "call-reject" }, ["Reject"]),
  hangup: el("button", { id: "call-hangup", type: "button", class: "rc-btn rc-danger", "data-testid": "call-hangup" }, ["Hang up"]),
  dismiss: el("button", { type: "button", class: "rc-btn rc-quiet", "data-testid": "call-dismiss" }, ["Close"]),
  actions: el("div", { class: "call-actions" }),
};
ui.localVideo.muted = true; // never play our own microphone back
headerButton.prepend(icon("phone"), " ");
ui.videos.append(ui.remoteVideo, ui.localVideo);
ui.choose.append(ui.video, ui.audio, ui.cancel);
ui.incoming.append(ui.incomingText, ui.accept, ui.reject);
ui.actions.append(ui.hangup, ui.dismiss);
overlay.append(el("div", { class: "call-head" }, [el("div", {}, [ui.title, ui.state])]), ui.videos, ui.choose, ui.incoming, ui.actions);

/** @param {string} state @param {string} text */
function show(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
  const call = manager?.active;
  const live = state === "invited" || state === "accepted" || state === "connected";
  overlay.hidden = state === "idle";
  ui.choose.hidden = state !== "choose";
  ui.incoming.hidden = state !== "ringing";
  ui.hangup.hidden = !live;
  ui.dismiss.hidden = !(state === "ended" || state === "failed");
  ui.videos.hidden = !(live && (call?.media ?? "video") === "video");
  headerButton.disabled = Boolean(call);
}

/** @param {number} ms */
function duration(ms) {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

/** @param {any} d a CallManager "state" event */
function describe(d) {
  const who = d.peer?.name ?? "them";
  switch (d.state) {
    case "invited":
      return `Calling ${who}…`;
    case "ringing":
      return `${who} is calling (${d.media})`;
    case "accepted":
      return `Connecting to ${who}…`;
    case "connected":
      return `In a call with ${who}`;
    case "failed":
      return `The call with ${who} failed (${d.reason ?? "unknown"})`;
    default:
      return `The call with ${who} ended (${d.reason ?? d.status ?? "ended"})`;
  }
}

/** @param {{user_id: string, name: string}} who */
function choose(who) {
  if (!manager || manager.active) return;
  peer = who;
  ui.title.textContent = `Call ${who.name}`;
  show("choose", "Video or audio?");
}

/** @param {"audio" | "video"} media */
async function place(media) {
  if (!manager || !demo || !peer) return;
  currentCallId = newCallId(); // chosen here, so its events are followed from the first one
  show("invited", `Calling ${peer.name}…`);
  try {
    const call = await demo.room.call(peer.user_id, { media, callId: currentCallId });
    if (call.state === "failed") show("failed", `The call with ${peer.name} failed (${call.reason})`);
  } catch (error) {
    show("failed", `The call failed (${/** @type {any} */ (error).code ?? /** @type {any} */ (error).message})`);
  }
}

ui.video.addEventListener("click", () => void place("video"));
ui.audio.addEventListener("click", () => void place("audio"));
ui.cancel.addEventListener("click", () => show("idle", ""));
ui.dismiss.addEventListener("click", () => show("idle", ""));
ui.accept.addEventListener("click", async () => {
  if (!manager || !currentCallId) return;
  try {
    await manager.accept(currentCallId);
  } catch (error) {
    show("failed", `Could not accept (${/** @type {any} */ (error).code ?? /** @type {any} */ (error).message})`);
  }
});
ui.reject.addEventListener("click", () => {
  if (manager && currentCallId) void manager.reject(currentCallId).catch(() => {});
});
ui.hangup.addEventListener("click", () => {
  if (manager && currentCallId) void manager.hangup(currentCallId).catch(() => {});
});
headerButton.addEventListener("click", () => {
  if (others.length === 1) choose(others[0]);
});

/** @param {any} detail window.roomcastDemo */
function start(detail) {
  stop();
  demo = detail;
  manager = detail.client.calls;
  /** @type {any} */ (window).roomcastCalls = manager;
  const m = /** @type {CallManager} */ (manager);
  unsubscribe = [
    m.on("incoming", (d) => {
      if (m.active && m.active.callId !== d.call_id) return;
      currentCallId = d.call_id;
      peer = d.from;
      ui.title.textContent = `${d.from.name} is calling`;
      ui.incomingText.textContent = `${d.from.name} is calling (${d.media})`;
      show("ringing", `${d.from.name} is calling (${d.media})`);
    }),
    m.on("state", (d) => {
      if (d.call_id !== currentCallId) return;
      ui.title.textContent = d.peer.name;
      show(d.state, describe(d));
      clearInterval(timer);
      if (d.state === "connected") {
        const since = Date.now();
        timer = setInterval(() => show("connected", `In a call with ${d.peer.name} · ${duration(Date.now() - since)}`), 1000);
      }
      if (d.state === "ended" || d.state === "failed") {
        ui.remoteVideo.srcObject = null;
        ui.localVideo.srcObject = null;
      }
    }),
    m.on("local-stream", (d) => {
      if (d.call_id === currentCallId) ui.localVideo.srcObject = d.stream;
    }),
    m.on("remote-stream", (d) => {
      if (d.call_id === currentCallId) ui.remoteVideo.srcObject = d.stream;
    }),
    m.on("error", (d) => console.warn("call error", d.error)),
  ];
  show("idle", "");
}

/** The room closed or this page left it: the call ends (the server ends it too). */
function stop() {
  clearInterval(timer);
  for (const off of unsubscribe) off();
  unsubscribe = [];
  const active = manager?.active;
  if (active) void manager?.hangup(active.callId).catch(() => {});
  manager = null;
  demo = null;
  others = [];
  /** @type {any} */ (window).roomcastCalls = null;
  ui.localVideo.srcObject = null;
  ui.remoteVideo.srcObject = null;
  headerButton.hidden = true;
  show("idle", "");
}

window.addEventListener("roomcast-demo:joined", (event) => start(/** @type {CustomEvent} */ (event).detail));
window.addEventListener("roomcast-demo:closed", () => stop());
window.addEventListener("roomcast-demo:left", () => stop());
// The people list changed: the header's Call button is for a room of two.
window.addEventListener("roomcast-demo:members", (event) => {
  const me = demo?.user?.user_id;
  others = /** @type {CustomEvent} */ (event).detail.members.filter((/** @type {any} */ m) => m.user_id !== me);
  headerButton.hidden = !manager || others.length !== 1;
  headerButton.title = others.length === 1 ? `Call ${others[0].name}` : "";
});
// A phone next to a person (app.js) asks for a call with them.
window.addEventListener("roomcast-demo:call", (event) => choose(/** @type {CustomEvent} */ (event).detail));
if (/** @type {any} */ (window).roomcastDemo) start(/** @type {any} */ (window).roomcastDemo);
