// Style and tier: style cards with previews, tier cards with prices, the order summary, and checkout —
// which creates the payment and opens the bank's page.

import { get, post } from "../api.js";
import { h, mount, toast } from "../dom.js";
import { portraits, rubles } from "../ru.js";
import { openPayment, setBack, setPrimary } from "../telegram.js";

export async function render(ctx) {
  const avatarId = ctx.params.avatarId;
  setBack(() => ctx.navigate(`/avatars/${avatarId}`));
  const [catalog, avatar] = await Promise.all([get("/api/v1/catalog"), get(`/api/v1/avatars/${avatarId}`)]);
  if (!ctx.alive()) return;
  if (!avatar.ready) { ctx.navigate(`/avatars/${avatarId}`, { replace: true }); return; }
  let style = catalog.styles[0];
  let tier = catalog.tiers.find((t) => t.id === "standard") || catalog.tiers[0];

  const summary = h("section", { class: "card summary", "aria-label": "Ваш заказ" });
  const styles = h("div", { class: "styles", role: "radiogroup", "aria-label": "Стиль" });
  const tiers = h("div", { class: "tiers", role: "radiogroup", "aria-label": "Пакет" });

  function draw() {
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
    h("span", { class: "hint" }, `${rubles(Math.round(t.price_kopecks / t.photos))} за портрет`))));
    mount(summary, 
      h("h2", {}, "Ваш заказ"),
      h("dl", {},
        h("div", {}, h("dt", {}, "Аватар"), h("dd", {}, avatar.name)),
        h("div", {}, h("dt", {}, "Стиль"), h("dd", {}, style.title)),
        h("div", {}, h("dt", {}, "Портретов"), h("dd", {}, String(tier.photos))),
        h("div", { class: "total" }, h("dt", {}, "К оплате"), h("dd", {}, rubles(tier.price_kopecks)))),
      h("p", { class: "hint" }, "Портреты придут альбомом в чат с ботом и появятся в галерее. " +
        "Если какие-то не получатся, мы вернём деньги за них."));
    setPrimary({ text: `Оплатить ${rubles(tier.price_kopecks)}`, onClick: pay });
  }

  async function pay() {
    setPrimary({ text: "Оплатить", busy: true, onClick: pay });
    try {
      const payment = await post("/api/v1/payments", { avatar_id: avatarId, style_id: style.id, tier: tier.id });
      ctx.navigate(`/payments/${payment.payment_id}`, { replace: false });
      openPayment(payment.payment_url);
    } catch (error) {
      toast(error.message, { error: true });
      if (ctx.alive()) draw();
    }
  }

  mount(ctx.root, 
    h("h1", {}, "Стиль и пакет"),
    h("h2", {}, "Стиль"), styles,
    h("h2", {}, "Сколько портретов"), tiers,
    summary);
  draw();
}

/** Start a new checkout for the same avatar, style and tier (after a declined or lapsed payment). */
export async function retryPayment(ctx, payment) {
  const fresh = await post("/api/v1/payments", { avatar_id: payment.avatar_id, style_id: payment.style_id,
                                                 tier: payment.tier });
  ctx.navigate(`/payments/${fresh.payment_id}`, { replace: true });
  openPayment(fresh.payment_url);
}
