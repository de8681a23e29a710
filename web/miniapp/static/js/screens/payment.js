// Payment: where the bank's return URLs land ("#/payments/<id>?result=success|fail"). Waits for the bank's
// confirmation, then moves to the order; a declined or lapsed payment says so and offers to try again.

import { get } from "../api.js";
import { h, mount, sleep, toast } from "../dom.js";
import { portraits, rubles } from "../ru.js";
import { openPayment, setBack, setPrimary } from "../telegram.js";
import { retryPayment } from "./order.js";

const FAILED = new Set(["rejected", "canceled", "expired"]);
const PAID = new Set(["authorized", "confirmed"]);

export async function render(ctx) {
  const id = ctx.params.paymentId;
  const result = ctx.query.get("result");
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
    draw(ctx, payment, result);
    if (FAILED.has(payment.status)) return;
    await sleep(Math.min(1000 + round * 250, 4000));
  }
}

function draw(ctx, payment, result) {
  const what = `${portraits(payment.photo_count)} · ${rubles(payment.amount_kopecks)}`;
  let title;
  let text;
  let failed = false;
  if (FAILED.has(payment.status) || (result === "fail" && payment.status === "new")) {
    failed = true;
    title = payment.status === "expired" ? "Ссылка на оплату истекла" : "Оплата не прошла";
    text = "Деньги не списаны. Можно попробовать ещё раз — другой картой или позже.";
  } else if (PAID.has(payment.status) || payment.status === "partially_refunded") {
    title = "Оплата получена";
    text = "Запускаем создание портретов…";
  } else if (result === "success") {
    title = "Ждём подтверждения банка";
    text = "Обычно это занимает несколько секунд. Не закрывайте приложение.";
  } else {
    title = "Ждём оплату";
    text = "Оплатите заказ на странице банка. Если вы её закрыли, откройте снова.";
  }
  mount(ctx.root, h("section", { class: "card center payment", "aria-live": "polite" },
    failed ? h("div", { class: "icon bad", "aria-hidden": "true" }, "✕")
      : h("div", { class: "spinner", role: "progressbar", "aria-label": "Ожидание" }),
    h("h1", {}, title),
    h("p", {}, text),
    h("p", { class: "hint" }, what),
    failed ? h("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("/") }, "На главную") : null));
  if (failed) {
    setPrimary({ text: "Попробовать снова", onClick: async () => {
      setPrimary({ text: "Попробовать снова", busy: true, onClick: () => {} });
      try { await retryPayment(ctx, payment); } catch (error) {
        toast(error.message, { error: true });
        setPrimary({ text: "Попробовать снова", onClick: () => ctx.navigate("/") });
      }
    } });
  } else if (payment.status === "new" && result !== "success" && payment.payment_url) {
    setPrimary({ text: "Открыть страницу оплаты", onClick: () => openPayment(payment.payment_url) });
  } else {
    setPrimary(null);
  }
}
