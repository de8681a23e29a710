"""The fake's invoice links: the page a person pays on, and the payment itself as Telegram runs it.

``GET /invoice/<slug>`` is the invoice as a page with "Оплатить ⭐ N" and "Отмена" (what ``openInvoice`` shows
inside Telegram). Query parameters, sandbox conveniences for a Mini App outside Telegram: ``user`` — the payer's
Telegram id (default: ``DEFAULT_PAYER_ID``); ``return`` — a URL on 127.0.0.1 to go to once the payment is
paid, failed or cancelled, with ``status=paid|failed|cancelled`` appended (to the fragment's query when the URL has
a ``#`` fragment, as a hash-routed app reads it; else to the query string).

``POST /invoice/<slug>/pay`` (a form or JSON ``{"user": {...} | id, "wait": true}``) pays as Telegram does: the
``pre_checkout_query`` update goes to the bot's webhook, and the fake waits for the answer — the method in the
webhook's response body (``{"method": "answerPreCheckoutQuery", ...}``) or an ``answerPreCheckoutQuery`` call —
for ``pre_checkout_timeout_ms`` (10 s, as Telegram) from the moment the query is sent. No answer: the payment
fails; ``ok: false``: it fails showing the bot's ``error_message``; ``ok: true``: the charge is made (a Star
transaction) and the ``message`` update with ``successful_payment`` is sent. ``wait: false`` answers at once
(``pending``) and pays in the background. ``POST /invoice/<slug>/cancel`` closes a pending invoice;
``GET /invoice/<slug>/status`` is the invoice as JSON, whose ``status`` (pending, paid, failed, cancelled) is what
``openInvoice``'s callback would get.

Fault rules (``sandbox.control`` format) on the steps ``pre_checkout_query`` and ``successful_payment``:
``error_code: "drop"`` — the update is never sent (a lost update: only getStarTransactions knows the charge);
``error_code: "duplicate"`` — sent twice; ``delay_ms`` — sent that much later (the payment page has said paid).
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, jsonify, redirect, request

from sandbox.control import FaultRule
from sandbox.telegram.control import ControlError, _deliver, _post, _webhook, answering_control_errors, fake_state
from sandbox.telegram.stars import record_charge, take_pre_checkout_answer
from sandbox.telegram.state import FakeTelegramState, PreCheckoutWaiter

OPEN = "pending"
DEFAULT_PAYER_ID = 700_000_001  # who pays when the payer is not named


def invoice_blueprint() -> Blueprint:
    """The invoice page and its actions; the state is ``fake_state()``."""
    bp = answering_control_errors(Blueprint("telegram_invoices", __name__))

    @bp.get("/invoice/<slug>")
    def page(slug: str) -> Any:
        invoice = _invoice(fake_state(), slug)
        back = _return_url(request.args.get("return"))
        return Response(_page_html(invoice, back, request.args.get("user")), 200, mimetype="text/html")

    @bp.get("/invoice/<slug>/status")
    def status(slug: str) -> Any:
        return jsonify(_invoice(fake_state(), slug))

    @bp.post("/invoice/<slug>/pay")
    def pay(slug: str) -> Any:
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        body = body if isinstance(body, dict) else {}
        payer = _payer(fake_state(), body.get("user"))
        _invoice(fake_state(), slug)
        if body.get("wait", True) in (False, "0", "false"):
            _start_payment(fake_state(), slug)
            started = _invoice(fake_state(), slug)  # before the payment runs: it may end before we answer
            threading.Thread(target=pay_invoice, args=(fake_state(), slug, payer), daemon=True).start()
            return jsonify(started), 202
        _start_payment(fake_state(), slug)
        result = pay_invoice(fake_state(), slug, payer)
        return _finish(result, body.get("return"))

    @bp.post("/invoice/<slug>/cancel")
    def cancel(slug: str) -> Any:
        body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
        with fake_state().lock:
            invoice = fake_state().invoices.get(slug)
            if invoice is None:
                raise ControlError(404, "no such invoice")
            if invoice["status"] == OPEN and not invoice.get("in_progress"):
                invoice["status"] = "cancelled"
            result = dict(invoice)
        return _finish(result, (body or {}).get("return"))

    return bp


def pay_invoice(state: FakeTelegramState, slug: str, payer: dict[str, Any]) -> dict[str, Any]:
    """The pre-checkout round trip, then the charge and its update; the invoice as it ends."""
    try:
        answer = _ask_pre_checkout(state, slug, payer)
        with state.lock:
            invoice = state.invoices[slug]
            invoice["in_progress"] = max(0, int(invoice.get("in_progress") or 0) - 1)
            invoice["payer_id"] = payer["id"]
            if answer is None or not answer["ok"]:
                error = "The bot didn't respond in time" if answer is None else answer["error_message"]
                if invoice["status"] == "paid":  # the other sheet paid it: this attempt alone failed
                    return {**invoice, "status": "failed", "error_message": error}
                invoice["status"] = "failed"
                invoice["error_message"] = error
                return dict(invoice)
            charge = record_charge(state, invoice, payer)
            invoice["status"] = "paid"
            invoice["telegram_payment_charge_id"] = charge["telegram_payment_charge_id"]
            paid = dict(invoice)
        _send_successful_payment(state, charge)
        return paid
    except ControlError as error:  # no webhook: Telegram could not ask the bot, so the payment fails
        with state.lock:
            invoice = state.invoices[slug]
            invoice["in_progress"] = max(0, int(invoice.get("in_progress") or 0) - 1)
            if invoice["status"] == "paid":  # the other sheet paid it: this attempt alone failed
                return {**invoice, "status": "failed", "error_message": error.message}
            invoice.update(status="failed", error_message=error.message)
            return dict(invoice)


def _start_payment(state: FakeTelegramState, slug: str) -> None:
    """A payment sheet opens. As at Telegram, the same invoice can be open on two devices at once: each sheet
    asks the bot its own pre_checkout_query, and each the bot approves is charged (the bot must cope with a
    second charge). An invoice paid or cancelled, with no sheet open, takes no more payments."""
    with state.lock:
        invoice = state.invoices[slug]
        open_sheets = int(invoice.get("in_progress") or 0)
        if invoice["status"] not in (OPEN, "failed") and not open_sheets:
            raise ControlError(409, f"the invoice is {invoice['status']}")
        invoice.update(status=OPEN if invoice["status"] != "paid" else "paid", error_message=None,
                       in_progress=open_sheets + 1)


def _ask_pre_checkout(state: FakeTelegramState, slug: str, payer: dict[str, Any]) -> dict[str, Any] | None:
    """Send the pre_checkout_query and wait for the bot's answer within the timeout; None when none came."""
    target = _webhook(state)
    query_id = str(secrets.randbits(62))
    waiter = PreCheckoutWaiter()
    with state.lock:
        invoice = state.invoices[slug]
        query = {"id": query_id, "from": payer, "currency": invoice["currency"],
                 "total_amount": invoice["total_amount"], "invoice_payload": invoice["payload"]}
        update = {"update_id": state.next_update_id(), "pre_checkout_query": query}
        state.updates.append(update)
        state.pre_checkout_waiters[query_id] = waiter
        timeout_s = state.config.pre_checkout_timeout_ms / 1000
    deadline = time.monotonic() + timeout_s
    rule = state.faults.take("pre_checkout_query", json.dumps(update, ensure_ascii=False), any_method=False)
    if rule is not None and rule.delay_ms:
        time.sleep(rule.delay_ms / 1000)
    if not _dropped(rule):
        delivery = _post(target["url"], update, target["headers"], max(0.05, deadline - time.monotonic()), 1)
        with state.lock:
            state.deliveries.append(delivery)
        _answer_in_body(state, query_id, delivery.get("body"))
    waiter.event.wait(max(0.0, deadline - time.monotonic()))
    with state.lock:
        state.pre_checkout_waiters.pop(query_id, None)  # a later answer finds no query: "query is too old"
        return waiter.answer


def _answer_in_body(state: FakeTelegramState, query_id: str, body: str | None) -> None:
    """Telegram executes a method the webhook answers with; here only answerPreCheckoutQuery is understood."""
    try:
        answer = json.loads(body or "")
    except ValueError:
        return
    if not isinstance(answer, dict) or answer.get("method") != "answerPreCheckoutQuery":
        return
    if str(answer.get("pre_checkout_query_id")) != query_id or not isinstance(answer.get("ok"), bool):
        return
    error = answer.get("error_message") if not answer["ok"] else None
    take_pre_checkout_answer(state, query_id, ok=answer["ok"], error_message=error, via="webhook")


def _send_successful_payment(state: FakeTelegramState, charge: dict[str, Any]) -> None:
    payer = charge["payer"]
    with state.lock:
        state.users.setdefault(payer["id"], payer)
        message = {"message_id": state.next_message_id(payer["id"]), "from": payer,
                   "chat": state.chat_object(payer["id"]), "date": int(time.time()),
                   "successful_payment": {key: charge[key] for key in (
                       "currency", "total_amount", "invoice_payload", "telegram_payment_charge_id",
                       "provider_payment_charge_id")}}
        update = {"update_id": state.next_update_id(), "message": message}
        state.updates.append(update)
    rule = state.faults.take("successful_payment", json.dumps(update, ensure_ascii=False), any_method=False)
    if _dropped(rule):
        return
    try:
        target = _webhook(state)
    except ControlError:
        return
    if rule is not None and str(rule.error_code) == "duplicate":
        target = {**target, "copies": target["copies"] + 1}
    if rule is not None and rule.delay_ms:
        def later() -> None:
            time.sleep(rule.delay_ms / 1000)
            _deliver(state, target, [update])
        threading.Thread(target=later, daemon=True).start()
        return
    _deliver(state, target, [update])


def _dropped(rule: FaultRule | None) -> bool:
    return rule is not None and str(rule.error_code) == "drop"


def _invoice(state: FakeTelegramState, slug: str) -> dict[str, Any]:
    with state.lock:
        invoice = state.invoices.get(slug)
        if invoice is None:
            raise ControlError(404, "no such invoice")
        return dict(invoice)


def _payer(state: FakeTelegramState, raw: Any) -> dict[str, Any]:
    """The paying Telegram user: an object with an id, an id, or ``DEFAULT_PAYER_ID``."""
    if isinstance(raw, dict):
        user_id = raw.get("id")
    else:
        user_id, raw = raw, {}
    if user_id in (None, ""):
        user_id = DEFAULT_PAYER_ID
    if isinstance(user_id, bool) or not str(user_id).isdigit():
        raise ControlError(400, "user must be a Telegram user id or an object with one")
    return {"is_bot": False, "first_name": "Sandbox", **raw, "id": int(user_id)}


def _return_url(raw: str | None) -> str | None:
    """The page to go back to: http(s) on 127.0.0.1 only (the fake must not become an open redirect)."""
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or parts.hostname != "127.0.0.1":
        raise ControlError(400, "return must be an http(s) URL on 127.0.0.1")
    return raw


def with_status(url: str, status: str) -> str:
    """``url`` with ``status=<status>`` appended: to the fragment's own query when there is a fragment."""
    parts = urlsplit(url)
    if parts.fragment:
        joiner = "&" if "?" in parts.fragment else "?"
        return urlunsplit(parts._replace(fragment=f"{parts.fragment}{joiner}status={status}"))
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), ("status", status)])
    return urlunsplit(parts._replace(query=query))


def _finish(invoice: dict[str, Any], raw_return: str | None) -> Any:
    """JSON for a script; a redirect to ``return`` (or back to the page) for a person's form."""
    if request.is_json:
        return jsonify(invoice)
    back = _return_url(raw_return)
    if back and invoice["status"] != OPEN:
        return redirect(with_status(back, invoice["status"]), 303)
    query = urlencode({"return": back} if back else {})
    return redirect(f"/invoice/{invoice['slug']}{'?' + query if query else ''}", 303)


def _page_html(invoice: dict[str, Any], back: str | None, user: str | None) -> str:
    e = html.escape
    hidden = "".join(f'<input type="hidden" name="{name}" value="{e(value)}">'
                     for name, value in (("return", back), ("user", user)) if value)
    if invoice["status"] == OPEN:
        actions = (f'<form method="post" action="/invoice/{e(invoice["slug"])}/pay">{hidden}'
                   f'<button type="submit">Оплатить ⭐ {invoice["total_amount"]}</button></form>'
                   f'<form method="post" action="/invoice/{e(invoice["slug"])}/cancel">{hidden}'
                   f'<button type="submit">Отмена</button></form>')
    else:
        reason = f' — {e(invoice["error_message"])}' if invoice.get("error_message") else ""
        actions = f'<p role="status">Статус: {e(invoice["status"])}{reason}</p>'
        if invoice["status"] == "failed":
            actions += (f'<form method="post" action="/invoice/{e(invoice["slug"])}/pay">{hidden}'
                        f'<button type="submit">Оплатить ⭐ {invoice["total_amount"]}</button></form>')
        if back:
            actions += f'<p><a href="{e(with_status(back, invoice["status"]))}">Вернуться</a></p>'
    return (f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{e(invoice["title"])}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
            f'<h1>{e(invoice["title"])}</h1><p>{e(invoice["description"])}</p>'
            f'<p>⭐ {invoice["total_amount"]} (Telegram Stars, sandbox)</p>{actions}</body></html>')
