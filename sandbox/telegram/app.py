"""A fake Telegram Bot API on loopback that speaks the wire protocol of docs/providers.md#telegram-bot-api,
quirks included.

Bot API (``/bot<token>/<method>``; a wrong token answers 401 ``Unauthorized``): ``sendMediaGroup`` (2..10 photos,
``attach://`` multipart files, caption <= 1024 on the first item only, every photo decoded with Pillow, <= 10 MB,
width + height <= 10000; one bad item fails the whole group), ``sendPhoto`` (upload or a known file_id),
``sendMessage`` (text 1..4096, ``reply_markup`` kept), ``sendDocument`` (<= 50 MB), ``getFile`` and downloads at
``/file/bot<token>/<file_path>``, ``getMe``, and the bot's settings (``sandbox.telegram.bot_setup``):
``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo``, ``setMyCommands`` / ``getMyCommands`` /
``deleteMyCommands``, ``setChatMenuButton`` / ``getChatMenuButton`` (HTTPS only, except http://127.0.0.1).
Telegram Stars: ``createInvoiceLink``, ``answerPreCheckoutQuery``, ``refundStarPayment``,
``getStarTransactions`` (``sandbox.telegram.stars``) and the invoice page that pays an invoice link with its
pre-checkout round trip (``sandbox.telegram.invoices``). URLs as photos are refused: our code must upload
bytes (a Telegram-cached failed URL is a real-world trap).

Flood control: token buckets per chat and for the whole bot; each album item counts as one message; over a limit
the answer is 429 ``Too Many Requests: retry after S`` with ``parameters.retry_after`` and nothing is recorded.
Blocked chats answer 403 ``Forbidden: bot was blocked by the user``.

Knobs (``POST /_sandbox/config`` with JSON, or ``SANDBOX_TELEGRAM_<KNOB>`` in the environment):
  bot_token           accepted token (default: Settings' "100000:SANDBOX-bot-token"; masked in the state)
  bot_username        what getMe answers (PinGlassBot)
  chat_rate_per_s     per-chat refill rate, messages/s (1)        chat_burst    per-chat bucket size (20)
  global_rate_per_s   whole-bot refill rate, messages/s (30)     global_burst  whole-bot bucket size (30)
  blocked_chats       chat ids that blocked the bot (comma-separated in the environment; a new list replaces)
  duplicate_updates   extra copies of every update sent to our webhook (0)
  server_error_rate   probability that a call answers 500 and does nothing (0.0)
  lost_answer_rate    probability that a send takes effect but answers 502 (0.0): the duplicate-send window
  strict_button_urls  refuse loopback button URLs and non-HTTPS Web App URLs as real Telegram does (false)
  webhook_timeout_ms  how long to wait for our webhook's answer (10000)
  pre_checkout_timeout_ms  how long a pre_checkout_query waits for the bot's answer before the payment fails
                      (10000, as Telegram)
  seed                seed of the random draws above (none)
Changing a rate or burst refills the buckets; ``seed`` restarts the draws.

Control: the shared ``/_sandbox/`` API (``sandbox.control``: state, config, reset, fail). The state has the
config, webhook (with its secret), commands by scope, menu buttons, blocked chats, messages per chat, 429s
given, error answers, recent calls and counts per method, updates sent and our webhook's answers. Fault rules:
``method`` is a Bot API method; ``match`` looks in the call's parameters as JSON; the call does nothing and
answers ``{"ok": false, "error_code"}`` (default 500) or, with ``body``, that raw page. Telegram's own:
  POST /_sandbox/blocked            {"chat_id": 1, "blocked": true|false}
  GET  /_sandbox/chats/<chat_id>    {"chat_id", "blocked", "messages": [{method, message_id, date, media_group_id,
                                    caption, text, reply_markup, document, photos: [{file_id, sha256, width,
                                    height, size, format, prompt}]}]} in the order sent; an album is one message
                                    per photo sharing media_group_id
  GET  /_sandbox/files/<file_id>    the file's bytes
  POST /_sandbox/updates/text       {"chat_id"?, "user": {"id", ...}, "text": "/start ref_ABC"}
  POST /_sandbox/updates/photos     {"chat_id"?, "user", "images": [base64...], "as_album": true, "caption"?,
                                    "as_document": false}
Updates go to the setWebhook URL with ``X-Telegram-Bot-Api-Secret-Token`` (409 when no webhook is set); the answer
lists the updates and each delivery's status and body. ``chat_id`` defaults to the user's id (a private chat).
"""

from __future__ import annotations

from flask import Flask

from sandbox.control import mount_control
from sandbox.telegram.botapi import bot_api_blueprint
from sandbox.telegram.control import control_blueprint
from sandbox.telegram.invoices import invoice_blueprint
from sandbox.telegram.state import FakeTelegramState, TelegramFakeConfig


def create_app(config: TelegramFakeConfig | None = None) -> Flask:
    """The fake as a WSGI app; its state is ``app.extensions["fake"]`` (a ``FakeTelegramState``)."""
    app = Flask("sandbox.telegram")
    app.config["MAX_CONTENT_LENGTH"] = 60 * 1024 * 1024  # a 50 MB document plus multipart overhead
    fake = FakeTelegramState(config or TelegramFakeConfig())
    app.extensions["fake"] = fake
    app.register_blueprint(bot_api_blueprint())
    mount_control(app, fake)
    app.register_blueprint(control_blueprint())
    app.register_blueprint(invoice_blueprint())
    return app
