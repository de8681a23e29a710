"""``python -m workers.dramatiq_cli <dramatiq's arguments>``: Dramatiq's own command line (``deploy/launch.sh
worker`` runs it) with every process logging the fleet's JSON lines (``telemetry/logs.py``).

Dramatiq's command line configures plain-text logging in its parent process (booting up, a worker process that
died, shutting down) and in each child before the broker module is imported. Here the parent's logging is the
fleet's own, configured before Dramatiq's main runs, and ``--skip-logging`` keeps Dramatiq from configuring any:
each worker process then logs JSON from ``workers.boot`` on (its stderr already goes through Dramatiq's pipe to
the parent), and the fork processes (``workers.metrics_server``) configure the same when they start.

An idle queue's consumer sleeps at most ``WORKER_TIMEOUT_MS`` (default 100) before asking the broker again.
Dramatiq's own default, 1000 ms, adds up to a second to every hop of the chain that finds its queue idle
(payment → task → poll → store → album is five); 100 ms costs a few hundred cheap broker calls a second per worker
host. Dramatiq reads it (``dramatiq_worker_timeout``) when it is imported, so it is set before the import."""

from __future__ import annotations

import os
import sys

from telemetry import logs

IDLE_POLL_MS = "100"


def main(argv: list[str]) -> int:
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    set_idle_poll()
    from dramatiq import cli  # after set_idle_poll: Dramatiq reads it on import, and the workers fork from here

    args = cli.make_argument_parser().parse_args([*argv, "--skip-logging"])
    return int(cli.main(args) or 0)


def set_idle_poll() -> None:
    """Dramatiq's idle-poll timeout for this process and the workers it forks (an explicit one is kept)."""
    os.environ.setdefault("dramatiq_worker_timeout", os.environ.get("WORKER_TIMEOUT_MS") or IDLE_POLL_MS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
