"""Gunicorn's settings for the web (``deploy/launch.sh web`` passes ``--config python:web.gunicorn_conf``): its own
error log and its access log as the fleet's JSON lines (``telemetry.logs.JsonFormatter``), so one log pipeline
reads every process. An access line carries the method, path, status, bytes, duration and the request's
correlation id (the ``X-Correlation-ID`` the web answered with)."""

from __future__ import annotations

# An idle keep-alive connection is kept 5 s (gunicorn's default: 2). A client told to wait (Retry-After 1-2 s:
# UPLOADS_BUSY, RATE_LIMITED) sends again on the same connection; closed at 2 s, that send meets a reset and a
# POST is lost to the client (the 100-people bench lost selfie uploads so). The gthread worker parks idle
# connections in its poller, so they hold no thread.
keepalive = 5
# Gunicorn (25.1+) opens a control socket for ``gunicornc`` at $XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl: one path per host, so the web and the hooks role (and any other gunicorn on it) take it
# from one another, and a read-only home fails. We do not use it: workers and reloads are the platform's.
control_socket_disable = True
accesslog = "-"  # stderr, as the error log
access_log_format = "%(m)s %(U)s %(s)s"  # the JSON formatter builds the line from the record's atoms instead
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "telemetry.logs.JsonFormatter"}},
    # gunicorn merges this over its defaults key by key: its root logger names the handler "console", its error
    # logger "error_console", so both are defined (here both JSON on stderr)
    "handlers": {name: {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
                 for name in ("console", "error_console")},
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
