// Checkout on either rail, shared by the order screen and the payment screen's "Попробовать снова": creates the
// payment, then hands the person to the bank's page (card) or to Telegram's Stars invoice and reports how the
// invoice ended. Also the e-mail a card receipt (54-FZ) is sent to: checked here before the server sees it.

import { post } from "./api.js";
import { errorText } from "./ru.js";
import { openInvoice, openPayment } from "./telegram.js";

const EMAIL_KEY = "pinglass.receipt-email";
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;

/** Why this address cannot take a receipt (a Russian sentence), or "" when it can. */
export function emailProblem(email) {
  if (!email) return errorText("EMAIL_REQUIRED");
  if (email.length > 254 || !EMAIL.test(email)) return errorText("INVALID_EMAIL");
  return "";
}

/** The receipt e-mail given earlier in this tab (kept for "Попробовать снова" after the bank's page). */
export function rememberedEmail() {
  try { return sessionStorage.getItem(EMAIL_KEY) || ""; } catch { return ""; }
}

function rememberEmail(email) {
  try { sessionStorage.setItem(EMAIL_KEY, email); } catch { /* private mode: asked again next time */ }
}

/** This app's address of a payment's screen: where Telegram's invoice page sends a person back outside
 * Telegram. */
export function paymentScreenUrl(paymentId) {
  return `${location.origin}${location.pathname}#/payments/${paymentId}`;
}

/**
 * Create the payment for `order` ({avatar_id, style_id, tier}) on `rail` ("card" | "stars") and hand the person
 * to it. Card: the payment screen, then the bank's page ("opened"). Stars: Telegram's invoice; the outcome is
 * "paid" or "pending" (the payment screen is shown), "cancelled" or "failed" (the caller stays and says so).
 * Rejects with the API's error (EMAIL_REQUIRED, INVALID_EMAIL, TOO_MANY_CHECKOUTS, …) when nothing was created.
 */
export async function checkout(ctx, order, { rail = "card", email = "" } = {}) {
  const body = { avatar_id: order.avatar_id, style_id: order.style_id, tier: order.tier, rail };
  if (rail === "card" && email) {
    body.email = email;
    rememberEmail(email);
  }
  const payment = await post("/api/v1/payments", body);
  if (payment.rail !== "stars") {
    ctx.navigate(`/payments/${payment.payment_id}`);
    openPayment(payment.payment_url);
    return { payment, outcome: "opened" };
  }
  return { payment, outcome: await payInvoice(ctx, payment) };
}

/** Open a Stars payment's invoice; when it is paid (or Telegram is still finishing it) show the payment screen,
 * which follows the payment to its job. How the invoice ended. */
export async function payInvoice(ctx, payment) {
  const outcome = await openInvoice(payment.invoice_url, paymentScreenUrl(payment.payment_id));
  if (outcome === "cancelled") {
    // Closed without paying: the payment stops holding one of the person's open checkouts (a later attempt to
    // pay this invoice is refused by us at pre-checkout). A failure here only leaves it to lapse on its own.
    post(`/api/v1/payments/${payment.payment_id}/cancel`, {}).catch(() => {});
  }
  if ((outcome === "paid" || outcome === "pending") && ctx.alive()) {
    const here = ctx.params.paymentId === payment.payment_id;
    ctx.navigate(`/payments/${payment.payment_id}?status=${outcome}`, { replace: here });
  }
  return outcome;
}
