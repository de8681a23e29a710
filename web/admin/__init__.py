"""The operators' surface under ``/admin``, every address behind the admin token (``web.admin.guard``).

- ``GET /admin``: the dashboard page — jobs by status and the recent ones with progress bars, payments by
  status, money (paid, refunded, referral credits), dead letters with Replay buttons, recent alerts, referrers
  (earned, reversed by refunds, balance), the outbox backlog and the broker's queues, links to ``/metrics`` and
  the Dramatiq dashboard.
- ``GET /admin/api/summary | jobs?status=&limit= | dead-letters?all=1 | alerts | referrals?limit=``, and
  ``POST /admin/api/dead-letters/<id>/replay``: the same as JSON (the replayed message is published after the
  request, through the outbox).
- ``/admin/dramatiq/``: the Dramatiq dashboard (``web.admin.queues``).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from web.admin import api, guard, pages, queues

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
blueprint.before_request(guard.check)
blueprint.after_request(guard.set_cookie)
pages.register(blueprint)
api.register(blueprint)
for _number, _rule in enumerate(("/dramatiq", "/dramatiq/", "/dramatiq/<path:rest>")):
    blueprint.add_url_rule(_rule, f"dramatiq_{_number}", queues.dashboard_view, methods=["GET", "POST"])


def register_extras(app: Flask) -> None:
    """Called by ``create_app`` once the app exists: the Dramatiq dashboard needs the app's broker."""
    queues.install(app, app.extensions["pinglass"].broker)
