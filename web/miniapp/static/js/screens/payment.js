// Payment: where a checkout lands — the bank's return URLs ("#/payments/<id>?result=success|fail"), Telegram's
// invoice page outside Telegram ("?status=paid|failed|cancelled"), or the Mini App itself after openInvoice.
// Waits for the payment to be confirmed, then moves to the order; a declined, cancelled or lapsed payment says so
// and offers to try again (on the same rail) or to choose another way to pay.

import { get, post } from "../api.js";
import { h, mount, sleep, starred, toast } from "../dom.js";
import { checkout, payInvoice, rememberedEmail } from "../checkout.js";
import { portraits, rubles, stars } from "../ru.js";
import { openPayment, setBack, setPrimary } from "../telegram.js";

const FAILED = new Set(["rejected", "canceled", "expired"]);
const PAID = new Set(["authorized", "confirmed"]);

export async function render(ctx) {
  const id = ctx.params.paymentId;
  // "result" from the bank's return URLs, "status" from Telegram's invoice page.
  const result = ctx.query.get("result") || { paid: "success", failed: "fail" }[ctx.query.get("status")] ||
    ctx.query.get("status");
  setBack(() => ctx.navigate("/"));
  for (let round = 0; ctx.alive(); round += 1) {
    let payment;
    try {
      payment = await get(`/api/v1/payments/${id}`);
    } catch (error) {
      if (round === 0) throw error;
      toast(error.message, { error: true });
      await sleep(3000);
      continue;
    }
    if (!ctx.alive()) return;
    if (payment.job_id) { ctx.navigate(`/generations/${payment.job_id}`, { replace: true }); return; }
    if (round === 0 && result === "cancelled" && payment.rail === "stars" && payment.status === "new") {
      // The invoice page came back closed without paying: the payment stops holding a checkout slot.
      payment = await post(`/api/v1/payments/${id}/cancel`, {}).catch(() => payment);
      if (!ctx.alive()) return;
    }
    const state = stateOf(payment, result);
    draw(ctx, payment, state);
    if (state.final) return;
    await sleep(Math.min(1000 + round * 250, 4000));
  }
}

/** What to tell the person about the payment: {title, text, failed, cancelled, waiting, final}. */
function stateOf(payment, result) {
  const isStars = payment.rail === "stars";
  const open = payment.status === "new";
  if (result === "cancelled" && (open || payment.status === "canceled")) {
    return { failed: true, final: true, cancelled: true, title: "Оплата отменена",
             text: "Звёзды не списаны — можно оплатить снова или выбрать другой способ." };
  }
  if (FAILED.has(payment.status) || (result === "fail" && open)) {
    return { failed: true, final: true,
             title: payment.status === "expired" ? "Ссылка на оплату истекла" : "Оплата не прошла",
             text: isStars ? "Звёзды не списаны. Можно попробовать ещё раз или оплатить картой."
               : "Деньги не списаны. Можно попробовать ещё раз — другой картой или позже." };
  }
  if (PAID.has(payment.status) || payment.status === "partially_refunded") {
    return { title: "Оплата получена", text: "Запускаем создание портретов…" };
  }
  if (result === "success" || result === "pending") {
    return { waiting: true, title: isStars ? "Ждём подтверждения Telegram" : "Ждём подтверждения банка",
             text: "Обычно это занимает несколько секунд. Не закрывайте приложение." };
  }
  return { title: "Ждём оплату", text: isStars
    ? "Оплатите счёт в Telegram Stars. Если вы его закрыли, откройте снова."
    : "Оплатите заказ на странице банка. Если вы её закрыли, откройте снова." };
}

function draw(ctx, payment, state) {
  const isStars = payment.rail === "stars";
  const amount = isStars ? stars(payment.amount_stars) : rubles(payment.amount_kopecks);
  const again = () => ctx.navigate(`/avatars/${payment.avatar_id}/order?style=${encodeURIComponent(payment.style_id)}` +
    `&tier=${encodeURIComponent(payment.tier)}&rail=${isStars ? "card" : "stars"}`);
  mount(ctx.root, h("section", { class: "card center payment", "aria-live": "polite" },
    state.failed ? h("div", { class: "icon bad", "aria-hidden": "true" }, "✕")
      : h("div", { class: "spinner", role: "progressbar", "aria-label": "Ожидание" }),
    h("h1", {}, state.title),
    h("p", {}, state.text),
    h("p", { class: "hint" }, starred(`${portraits(payment.photo_count)} · ${amount}`)),
    state.failed ? h("div", { class: "row" },
      h("button", { type: "button", class: "secondary", onclick: again }, "Выбрать другой способ"),
      h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/") }, "На главную")) : null));
  if (state.failed) {
    // A Stars invoice that failed (not cancelled, still open) can be paid again as it is; else a new checkout.
    const reopen = isStars && payment.status === "new" && !state.cancelled && payment.payment_url;
    setPrimary({ text: "Попробовать снова",
                 onClick: () => (reopen ? reopenInvoice(ctx, payment) : retry(ctx, payment, again)) });
  } else if (payment.status === "new" && !state.waiting && payment.payment_url) {
    setPrimary(isStars
      ? { text: `Оплатить ${amount}`, onClick: () => reopenInvoice(ctx, payment) }
      : { text: "Открыть страницу оплаты", onClick: () => openPayment(payment.payment_url) });
  } else {
    setPrimary(null);
  }
}

/** Telegram's invoice again, for a Stars payment still open. */
async function reopenInvoice(ctx, payment) {
  const outcome = await payInvoice(ctx, payment);
  if (outcome === "cancelled") toast("Оплата отменена — можно выбрать другой способ.");
  else if (outcome === "failed") toast("Оплата звёздами не прошла. Попробуйте ещё раз или оплатите картой.",
                                       { error: true });
}

/** A new checkout for the same avatar, style and tier on the same rail (after a declined, cancelled or lapsed
 * payment); when the card rail needs an e-mail this tab does not have, the order screen asks for it. */
async function retry(ctx, payment, chooseAgain) {
  setPrimary({ text: "Попробовать снова", busy: true, onClick: () => {} });
  try {
    const { outcome } = await checkout(ctx, payment, { rail: payment.rail, email: rememberedEmail() });
    if (outcome === "cancelled" || outcome === "failed") {
      toast(outcome === "cancelled" ? "Оплата отменена — можно выбрать другой способ."
        : "Оплата звёздами не прошла. Попробуйте ещё раз или оплатите картой.", { error: outcome === "failed" });
    }
  } catch (error) {
    if (error.code === "EMAIL_REQUIRED" || error.code === "INVALID_EMAIL") { chooseAgain(); return; }
    toast(error.message, { error: true });
  }
  if (ctx.alive()) setPrimary({ text: "Попробовать снова", onClick: () => retry(ctx, payment, chooseAgain) });
}
