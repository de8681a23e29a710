// The Telegram side of the app: initData, the start parameter, the theme, the main and back buttons, links,
// Stars invoices.
// Inside Telegram it uses window.Telegram.WebApp; outside (tests, a desktop browser in the sandbox) it reads
// the URL hash exactly as Telegram passes it ("#/path?tgWebAppData=...&tgWebAppThemeParams=...") and draws
// plain buttons instead of the native ones.

import { confirmDialog, h, starred } from "./dom.js";

const STORE = "pinglass.launch";
const webApp = window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData
  ? window.Telegram.WebApp : null;

/** Telegram's hash: an optional path before "?", then URL-encoded parameters (as telegram-web-app.js reads it). */
export function parseHash(hash) {
  let rest = hash.replace(/^#/, "");
  let path = "";
  if (!rest.includes("=") && !rest.includes("?")) return { path: decodeURIComponent(rest), params: {} };
  const q = rest.indexOf("?");
  if (q >= 0) {
    path = decodeURIComponent(rest.slice(0, q));
    rest = rest.slice(q + 1);
  }
  const params = {};
  for (const part of rest.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    params[key] = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, "%20"));
  }
  return { path, params };
}

/** What Telegram launched us with: initData, start parameter, theme. Survives our own navigation (the bank's
 * page and back) in sessionStorage, as telegram-web-app.js keeps it. */
function readLaunch() {
  if (webApp) {
    return { initData: webApp.initData, startParam: webApp.initDataUnsafe.start_param || "",
             theme: webApp.themeParams || {}, colorScheme: webApp.colorScheme };
  }
  const { path, params } = parseHash(location.hash);
  if (params.tgWebAppData) {
    let theme = {};
    try { theme = JSON.parse(params.tgWebAppThemeParams || "{}"); } catch { theme = {}; }
    const launch = { initData: params.tgWebAppData, startParam: params.tgWebAppStartParam || "", theme };
    try { sessionStorage.setItem(STORE, JSON.stringify(launch)); } catch { /* private mode: this page only */ }
    // Keep only our own route (and its query) in the address bar.
    const own = Object.entries(params).filter(([k]) => !k.startsWith("tgWebApp"));
    const query = own.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
    history.replaceState(null, "", `${location.pathname}${location.search}#${path || "/"}${query ? "?" + query : ""}`);
    return launch;
  }
  try { return JSON.parse(sessionStorage.getItem(STORE) || "null"); } catch { return null; }
}

export const launch = readLaunch();
export const inTelegram = webApp !== null;
export const sandbox = document.querySelector('meta[name="pinglass-sandbox"]')?.content === "1";

const CSS_NAMES = ["bg_color", "text_color", "hint_color", "link_color", "button_color", "button_text_color",
  "secondary_bg_color", "section_bg_color", "destructive_text_color", "accent_text_color", "subtitle_text_color",
  "section_header_text_color"];

/** Telegram's theme as CSS variables (--tg-theme-bg-color, …); Telegram's own script does this inside it. */
export function applyTheme(theme) {
  const root = document.documentElement;
  for (const name of CSS_NAMES) {
    if (theme && /^#[0-9a-fA-F]{3,8}$/.test(theme[name] || "")) {
      root.style.setProperty(`--tg-theme-${name.replace(/_/g, "-")}`, theme[name]);
    }
  }
  const bg = theme && theme.bg_color;
  if (bg && /^#[0-9a-fA-F]{3,8}$/.test(bg)) root.dataset.scheme = luminance(bg) < 0.5 ? "dark" : "light";
  else root.dataset.scheme = window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function luminance(hex) {
  let value = hex.slice(1);
  if (value.length === 3) value = value.split("").map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(value.slice(i, i + 2), 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function start() {
  if (webApp) {
    webApp.ready();
    webApp.expand();
    webApp.onEvent("themeChanged", () => applyTheme(webApp.themeParams));
  }
  applyTheme(launch ? launch.theme : {});
}

// --- the primary action and the back button -------------------------------------------------------------
let primaryHandler = null;
let backHandler = null;
const bottom = () => document.getElementById("bottom");
const primaryButton = () => document.getElementById("primary");
const backButton = () => document.getElementById("back");

/** The screen's main action ({text, onClick, disabled, busy}) or null: Telegram's MainButton inside Telegram,
 * a large button at the bottom of the screen outside. */
export function setPrimary(action) {
  if (webApp) {
    const main = webApp.MainButton;
    if (primaryHandler) main.offClick(primaryHandler);
    primaryHandler = null;
    if (!action) { main.hide(); return; }
    primaryHandler = () => { if (!action.disabled && !action.busy) action.onClick(); };
    main.setText(action.text);
    main.onClick(primaryHandler);
    if (action.disabled) main.disable(); else main.enable();
    if (action.busy) main.showProgress(false); else main.hideProgress();
    main.show();
    return;
  }
  const button = primaryButton();
  if (primaryHandler) button.removeEventListener("click", primaryHandler);
  primaryHandler = null;
  if (!action) { bottom().hidden = true; document.body.classList.remove("with-bottom"); return; }
  primaryHandler = () => { if (!action.disabled && !action.busy) action.onClick(); };
  button.replaceChildren(h("span", {}, starred(action.busy ? "Подождите…" : action.text)));
  button.disabled = Boolean(action.disabled || action.busy);
  button.addEventListener("click", primaryHandler);
  bottom().hidden = false;
  document.body.classList.add("with-bottom");
}

/** Show a back control that calls fn (or hide it with null). */
export function setBack(fn) {
  if (webApp) {
    if (backHandler) webApp.BackButton.offClick(backHandler);
    backHandler = fn;
    if (fn) { webApp.BackButton.onClick(fn); webApp.BackButton.show(); } else webApp.BackButton.hide();
    return;
  }
  const button = backButton();
  if (backHandler) button.removeEventListener("click", backHandler);
  backHandler = fn;
  button.hidden = !fn;
  if (fn) button.addEventListener("click", fn);
}

/** Open an outside page (the bank's): Telegram's in-app browser inside Telegram, this tab outside. */
export function openPayment(url) {
  if (webApp) webApp.openLink(url);
  else location.assign(url);
}

/** Pay a Telegram Stars invoice link. Inside Telegram: Telegram's own invoice sheet (openInvoice); resolves to
 * how it ended — "paid", "cancelled", "failed" or "pending". Outside (a desktop browser in the sandbox): this tab
 * goes to the invoice page, which comes back to `returnTo` with "status=paid|failed|cancelled" appended; the
 * promise never resolves, as the page is left. */
export function openInvoice(url, returnTo) {
  if (webApp && webApp.openInvoice) return new Promise((resolve) => webApp.openInvoice(url, resolve));
  const target = new URL(url, location.href);
  target.searchParams.set("return", returnTo);
  location.assign(target.toString());
  return new Promise(() => {});
}

/** Share a link through Telegram's chat picker. */
export function shareLink(url, text) {
  const share = `https://t.me/share/url?url=${encodeURIComponent(url)}&text=${encodeURIComponent(text)}`;
  if (webApp) webApp.openTelegramLink(share);
  else if (navigator.share) navigator.share({ url, text }).catch(() => {});
  else window.open(share, "_blank", "noopener");
}

/** Save a file: Telegram's downloadFile where the client has it, a plain link otherwise. */
export function download(url, fileName) {
  if (webApp && webApp.isVersionAtLeast && webApp.isVersionAtLeast("8.0")) {
    webApp.downloadFile({ url, file_name: fileName });
    return;
  }
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
}

export function confirm(message, options = {}) {
  if (webApp && webApp.showConfirm) return new Promise((resolve) => webApp.showConfirm(message, resolve));
  return confirmDialog(message, options);
}

export function haptic(kind) {
  if (webApp && webApp.HapticFeedback) webApp.HapticFeedback.notificationOccurred(kind);
}

/** Close the Mini App (inside Telegram) so that the person can open it again with fresh initData. */
export function close() {
  if (webApp) webApp.close();
}
