// The Mini App's entry: reads the launch (initData), applies the theme, and routes the hash to a screen.
// Routes: #/ · #/avatars/new · #/avatars/<id> · #/avatars/<id>/order · #/payments/<id>?result=…|status=… ·
// #/generations/<id> · #/generations/<id>/gallery · #/credits · #/me

import * as telegram from "./telegram.js";
import { onSessionLost, reportError } from "./api.js";
import { h, clear, mount } from "./dom.js";
import * as home from "./screens/home.js";
import * as avatar from "./screens/avatar.js";
import * as order from "./screens/order.js";
import * as payment from "./screens/payment.js";
import * as generation from "./screens/generation.js";
import * as gallery from "./screens/gallery.js";
import * as credits from "./screens/credits.js";
import * as me from "./screens/me.js";

const ROUTES = [
  [/^\/$/, home, []],
  [/^\/avatars\/new$/, avatar, []],
  [/^\/avatars\/(\d+)$/, avatar, ["avatarId"]],
  [/^\/avatars\/(\d+)\/order$/, order, ["avatarId"]],
  [/^\/payments\/(\d+)$/, payment, ["paymentId"]],
  [/^\/generations\/(\d+)$/, generation, ["jobId"]],
  [/^\/generations\/(\d+)\/gallery$/, gallery, ["jobId"]],
  [/^\/credits$/, credits, []],
  [/^\/me$/, me, []],
];

let current = null; // {controller} of the screen on show: aborted when we leave it
let sessionLost = false;

export function navigate(path, { replace = false } = {}) {
  const target = `#${path}`;
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  route();
}

function parseRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  const path = (q >= 0 ? raw.slice(0, q) : raw) || "/";
  const query = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  return { path, query };
}

function route() {
  if (sessionLost) return;
  if (current) current.controller.abort();
  const screen = clear(document.getElementById("screen"));
  telegram.setPrimary(null);
  telegram.setBack(null);
  document.getElementById("toast").hidden = true;
  window.scrollTo(0, 0);
  const { path, query } = parseRoute();
  const controller = new AbortController();
  current = { controller };
  for (const [pattern, module, names] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(names.map((name, i) => [name, Number(match[i + 1])]));
    const ctx = { root: screen, params, query, signal: controller.signal, navigate,
                  alive: () => !controller.signal.aborted };
    module.render(ctx).catch((error) => showError(ctx, error));
    return;
  }
  screen.append(h("section", { class: "card center" },
    h("h1", {}, "Такой страницы нет"),
    h("p", { class: "hint" }, "Возможно, ссылка устарела."),
    h("button", { type: "button", class: "secondary", onclick: () => navigate("/") }, "На главную")));
}

/** An error no screen handled: its sentence and a way on. */
export function showError(ctx, error) {
  if (!ctx.alive() || sessionLost) return;
  mount(ctx.root, h("section", { class: "card center", role: "alert" },
    h("h1", {}, "Не получилось"),
    h("p", {}, error && error.message ? error.message : "Попробуйте ещё раз."),
    h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: () => route() }, "Повторить"),
      h("button", { type: "button", class: "secondary", onclick: () => navigate("/") }, "На главную"))));
  if (error && !(error.status >= 400)) console.warn("screen failed", error); // eslint-disable-line no-console
}

function showSessionScreen(expired) {
  sessionLost = true;
  if (current) current.controller.abort();
  telegram.setPrimary(null);
  telegram.setBack(null);
  const screen = clear(document.getElementById("screen"));
  screen.append(h("section", { class: "card center", role: "alert" },
    h("h1", {}, expired ? "Сессия устарела" : "Откройте PinGlass в Telegram"),
    h("p", {}, expired
      ? "Прошло слишком много времени — откройте приложение заново, и всё продолжится с того же места."
      : "Приложение работает внутри Telegram: откройте бота PinGlass и нажмите «Открыть PinGlass»."),
    telegram.inTelegram
      ? h("button", { type: "button", class: "primary", onclick: () => telegram.close() }, "Закрыть и открыть заново")
      : null,
    telegram.sandbox
      ? h("a", { class: "button secondary", href: "/app/dev-login" }, "Войти как тестовый пользователь")
      : null));
}

telegram.start();
onSessionLost((error) => showSessionScreen(error.code === "INITDATA_EXPIRED"));
window.addEventListener("popstate", route);
// Errors nothing caught are reported for the admins (grouped by message and screen, /admin "Errors").
window.addEventListener("error", (event) => reportError(event.message, event.error && event.error.stack));
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason || {};
  reportError(reason.message || String(reason), reason.stack);
});
if (!telegram.launch || !telegram.launch.initData) showSessionScreen(false);
else route();
