"""Provider webhooks under ``/webhooks``: T-Bank payments, Kie.ai task callbacks, Telegram bot updates.

Each one verifies its sender, records what it must, hands the work to the actors through the outbox and
answers fast; none waits on a provider.
"""

from __future__ import annotations

from flask import Blueprint

from web.webhooks import kie, tbank, telegram

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")
blueprint.add_url_rule("/tbank", "tbank", tbank.receive, methods=["POST"])
blueprint.add_url_rule("/kie", "kie", kie.receive, methods=["POST"])
blueprint.add_url_rule("/telegram", "telegram", telegram.receive, methods=["POST"])
