"""``python -m workers.dramatiq_cli <dramatiq's arguments>``: Dramatiq's own command line (``deploy/launch.sh
worker`` runs it) with every process logging the fleet's JSON lines (``telemetry/logs.py``).

Dramatiq's command line configures plain-text logging in its parent process (booting up, a worker process that
died, shutting down) and in each child before the broker module is imported. Here the parent's logging is the
fleet's own, configured before Dramatiq's main runs, and ``--skip-logging`` keeps Dramatiq from configuring any:
each worker process then logs JSON from ``workers.boot`` on (its stderr already goes through Dramatiq's pipe to
the parent), and the fork processes (``workers.metrics_server``) configure the same when they start."""

from __future__ import annotations

import os
import sys

from dramatiq import cli

from telemetry import logs


def main(argv: list[str]) -> int:
    logs.configure(os.environ.get("LOG_LEVEL", "INFO"))
    args = cli.make_argument_parser().parse_args([*argv, "--skip-logging"])
    return int(cli.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
