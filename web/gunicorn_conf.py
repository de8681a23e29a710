"""Gunicorn's settings for the web (``deploy/launch.sh web`` passes ``--config python:web.gunicorn_conf``): its own
error log and its access log as the fleet's JSON lines (``telemetry.logs.JsonFormatter``), so one log pipeline
reads every process. An access line carries the method, path, status, bytes, duration and the request's
correlation id (the ``X-Correlation-ID`` the web answered with)."""

from __future__ import annotations

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
