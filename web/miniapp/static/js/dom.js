// Building the page: DOM nodes with textContent only (user data is never parsed as HTML), a toast, a
// confirmation dialog, a progress bar.

/** h("div", {class: "card", onclick: fn}, "text", child, [children]) → an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replace el's children with these (null, false and undefined are skipped, arrays flattened). */
export function mount(el, ...children) {
  append(clear(el), children);
  return el;
}

/** Text in which every "⭐" is drawn as our star icon (a phone or desktop without an emoji font shows an empty
 * box): the character stays in the text, for screen readers, copying and search. Nodes for h() or mount(). */
export function starred(text) {
  return String(text).split("⭐").flatMap((part, i) => (i ? [h("span", { class: "star" }, "⭐"), part] : [part]))
    .filter((part) => part !== "");
}

let toastTimer = null;

/** A short message at the bottom of the screen. */
export function toast(text, { error = false } = {}) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.classList.toggle("error", error);
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

/** A progress bar whose width is set through the CSSOM (allowed by our CSP, unlike inline styles). */
export function progressBar(fraction, label) {
  const fill = h("span", { class: "fill" });
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
  return h("span", { class: "bar", role: "progressbar", "aria-label": label || "Прогресс",
                     "aria-valuemin": 0, "aria-valuemax": 100,
                     "aria-valuenow": Math.round(fraction * 100) }, fill);
}

/** A modal question with two buttons, outside Telegram (inside, telegram.js uses showConfirm). */
export function confirmDialog(message, { ok = "Да", cancel = "Отмена", danger = false } = {}) {
  return new Promise((resolve) => {
    const close = (answer) => { overlay.remove(); resolve(answer); };
    const overlay = h("div", { class: "overlay", role: "dialog", "aria-modal": "true" },
      h("div", { class: "dialog" },
        h("p", {}, message),
        h("div", { class: "row" },
          h("button", { type: "button", class: "secondary", onclick: () => close(false) }, cancel),
          h("button", { type: "button", class: danger ? "danger" : "primary", onclick: () => close(true) }, ok))));
    document.body.append(overlay);
    overlay.querySelector("button:last-child").focus();
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
