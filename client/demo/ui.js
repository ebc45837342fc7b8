// @ts-check
// Small DOM helpers shared by the demo's modules (and meant for other pages on roomcast-ui.css).

/**
 * An element with attributes and children (strings become text: never markup).
 * @param {string} tag @param {Record<string, string>} [attrs] @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A round avatar with the initials of `name`, coloured from `id`. @param {string} id @param {string} name */
export function avatar(id, name) {
  let hash = 0;
  for (const ch of id ?? "") hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  const initials = (name ?? id ?? "?")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? "")
    .join("");
  const node = el("span", { class: "rc-avatar", "aria-hidden": "true" }, [initials || "?"]);
  node.style.setProperty("--rc-hue", String(hash % 360));
  return node;
}

/** A time as "14:05" (today) or "3 Mar, 14:05". @param {string | number | undefined} value */
export function clock(value) {
  if (value === undefined) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return date.toDateString() === new Date().toDateString()
    ? time
    : `${date.toLocaleDateString([], { day: "numeric", month: "short" })}, ${time}`;
}

/** "code: message" for a RoomcastError, the message for anything else. @param {unknown} error */
export function describeError(error) {
  const e = /** @type {any} */ (error);
  if (e && typeof e.code === "string") return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(error);
}
