// Style, tier and how to pay: style cards with previews, tier cards with prices, the two rails ("Картой" through
// T-Bank, "Telegram Stars" when the tier has a Stars price), the receipt e-mail when T-Bank receipts are on, the
// order summary, and checkout — the bank's page for a card, Telegram's invoice for Stars.
// Query (from "Выбрать другой способ" on the payment screen): style, tier, rail preselect the order.

import { get } from "../api.js";
import { h, mount, starred, toast } from "../dom.js";
import { checkout, emailProblem, rememberedEmail } from "../checkout.js";
import { portraits, price, rubles, stars } from "../ru.js";
import { setBack, setPrimary } from "../telegram.js";

const RAILS = [["card", "Картой"], ["stars", "Telegram Stars"]];

export async function render(ctx) {
  const avatarId = ctx.params.avatarId;
  setBack(() => ctx.navigate(`/avatars/${avatarId}`));
  const [catalog, avatar] = await Promise.all([get("/api/v1/catalog"), get(`/api/v1/avatars/${avatarId}`)]);
  if (!ctx.alive()) return;
  if (!avatar.ready) { ctx.navigate(`/avatars/${avatarId}`, { replace: true }); return; }
  const wanted = (key, list, fallback) => list.find((item) => item.id === ctx.query.get(key)) || fallback;
  let style = wanted("style", catalog.styles, catalog.styles[0]);
  let tier = wanted("tier", catalog.tiers, catalog.tiers.find((t) => t.id === "standard") || catalog.tiers[0]);
  let rail = ctx.query.get("rail") === "stars" ? "stars" : "card";
  let busy = false;

  const summary = h("section", { class: "card summary", "aria-label": "Ваш заказ" });
  const styles = h("div", { class: "styles", role: "radiogroup", "aria-label": "Стиль" });
  const tiers = h("div", { class: "tiers", role: "radiogroup", "aria-label": "Пакет" });
  const rails = h("div", { class: "rails", role: "radiogroup", "aria-label": "Способ оплаты" });
  const note = h("div", { class: "checkout-note", "aria-live": "polite" });
  const email = emailField(catalog.receipts_required);

  const railOf = () => (rail === "stars" && tier.price_stars ? "stars" : "card");

  function draw() {
    const chosen = railOf();
    mount(styles, ...catalog.styles.map((s) => h("button", {
      type: "button", role: "radio", class: "style" + (s.id === style.id ? " selected" : ""),
      "aria-checked": String(s.id === style.id), onclick: () => { style = s; draw(); } },
    h("img", { src: s.preview, alt: `Пример: ${s.title}`, loading: "lazy" }),
    h("span", {}, s.title))));
    mount(tiers, ...catalog.tiers.map((t) => h("button", {
      type: "button", role: "radio", class: "tier" + (t.id === tier.id ? " selected" : ""),
      "aria-checked": String(t.id === tier.id), onclick: () => { tier = t; draw(); } },
    h("span", { class: "tier-photos" }, portraits(t.photos)),
    h("span", { class: "tier-price" }, rubles(t.price_kopecks)),
    h("span", { class: "hint" }, starred(`${rubles(Math.round(t.price_kopecks / t.photos))} за портрет` +
      (t.price_stars ? ` · или ${stars(t.price_stars)}` : ""))))));
    mount(rails, ...RAILS.filter(([id]) => id === "card" || tier.price_stars).map(([id, title]) => h("button", {
      type: "button", role: "radio", class: "rail" + (id === chosen ? " selected" : ""),
      "aria-checked": String(id === chosen), onclick: () => { rail = id; clearNote(); draw(); } },
    h("span", { class: "rail-title" }, title),
    h("span", { class: "rail-price" }, starred(price(tier, id))),
    h("span", { class: "hint" }, id === "card" ? "Банковская карта или СБП на странице Т‑Банка"
      : "Звёзды с вашего баланса в Telegram"))));
    email.node.hidden = chosen !== "card" || !catalog.receipts_required;
    mount(summary,
      h("h2", {}, "Ваш заказ"),
      h("dl", {},
        h("div", {}, h("dt", {}, "Аватар"), h("dd", {}, avatar.name)),
        h("div", {}, h("dt", {}, "Стиль"), h("dd", {}, style.title)),
        h("div", {}, h("dt", {}, "Портретов"), h("dd", {}, String(tier.photos))),
        h("div", {}, h("dt", {}, "Оплата"), h("dd", {}, chosen === "stars" ? "Telegram Stars" : "Картой")),
        h("div", { class: "total" }, h("dt", {}, "К оплате"), h("dd", {}, starred(price(tier, chosen))))),
      h("p", { class: "hint" }, "Портреты придут альбомом в чат с ботом и появятся в галерее. " + (chosen === "stars"
        ? "Если какие-то не получатся, мы зачислим их вам в подарок, а если не получится ни один — вернём звёзды."
        : "Если какие-то не получатся, мы вернём деньги за них.")));
    setPrimary({ text: `Оплатить ${price(tier, chosen)}`, busy, onClick: pay });
  }

  function clearNote() { mount(note); }

  function say(text, { action = null } = {}) {
    mount(note, h("p", { class: "notice", role: "status" }, text), action);
    note.scrollIntoView({ block: "nearest" });
  }

  async function pay() {
    const chosen = railOf();
    let address = "";
    if (chosen === "card" && catalog.receipts_required) {
      address = email.input.value.trim();
      const problem = emailProblem(address);
      email.show(problem);
      if (problem) { email.input.focus(); return; }
    }
    clearNote();
    busy = true;
    draw();
    try {
      const { outcome } = await checkout(ctx, { avatar_id: avatarId, style_id: style.id, tier: tier.id },
                                         { rail: chosen, email: address });
      if (outcome === "cancelled") say("Оплата отменена — можно выбрать другой способ.");
      else if (outcome === "failed") toast("Оплата звёздами не прошла. Попробуйте ещё раз или оплатите картой.",
                                           { error: true });
    } catch (error) {
      if (error.code === "EMAIL_REQUIRED" || error.code === "INVALID_EMAIL") {
        email.show(error.message);
        email.input.focus();
      } else if (error.code === "TOO_MANY_CHECKOUTS") {
        say(error.message, { action: h("button", { type: "button", class: "secondary",
                                                   onclick: () => ctx.navigate("/") }, "Мои заказы") });
      } else {
        toast(error.message, { error: true });
      }
    }
    busy = false;
    if (ctx.alive()) draw();
  }

  mount(ctx.root,
    h("h1", {}, "Стиль и пакет"),
    h("h2", {}, "Стиль"), styles,
    h("h2", {}, "Сколько портретов"), tiers,
    h("h2", {}, "Как оплатить"), rails,
    email.node,
    summary,
    note);
  draw();
}

/** The receipt's e-mail field: a labelled input, the 54-FZ hint, and the place its error is shown. */
function emailField(needed) {
  const error = h("p", { class: "field-error", id: "email-error", role: "alert", hidden: true });
  const input = h("input", { type: "email", id: "email", name: "email", autocomplete: "email", inputmode: "email",
                             placeholder: "name@example.ru", required: needed, "aria-describedby": "email-hint",
                             value: rememberedEmail() || undefined,
                             oninput: () => { if (!error.hidden) show(""); } });
  const node = h("div", { class: "field email" },
    h("label", { for: "email" }, "E-mail для чека"),
    input,
    h("span", { class: "hint", id: "email-hint" }, "Пришлём чек по 54-ФЗ"),
    error);
  function show(text) {
    error.textContent = text;
    error.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
    input.setAttribute("aria-describedby", text ? "email-hint email-error" : "email-hint");
  }
  return { node, input, show };
}
