"""Operators' command for dead letters: ``python -m workers.replay list`` / ``python -m workers.replay ID…``,
and ``python -m workers.replay refund JOB_ID`` to retry the refund a job owes (e.g. one the bank refused).

A replay is ``usecases.dead_letters.replay`` — the same checks as the Replay button on ``/admin``: it queues the
message again through the outbox (a new message id) and marks the letter replayed."""

from __future__ import annotations

import os
import sys

from db import dead_letters
from db.pool import open_pool
from settings import Settings
from usecases import dead_letters as letters
from usecases import refunds
from usecases.errors import Refused
from workers.boot import boot_broker


def main(argv: list[str]) -> int:
    settings = Settings.from_env(os.environ)
    pool = open_pool(settings.database_url, max_size=2)
    try:
        if not argv or argv[0] == "list":
            with pool.connection() as conn:
                for row in dead_letters.list_dead_letters(conn, open_only=True):
                    print(f"{row['id']}\t{row['actor']}\t{row['attempts']}\t{row['created_at']:%Y-%m-%d %H:%M}"
                          f"\t{row['error'][:100]}")
            return 0
        if argv[0] == "refund":
            with pool.connection() as conn, conn.transaction():
                queued = [refunds.queue_refund(conn, job_id=int(job_id)) for job_id in argv[1:]]
            print(f"refund: queued {len(queued)} refund_job message(s)")
            return 0
        known_actors = boot_broker(settings, role="replay").get_declared_actors()
        for raw in argv:
            try:
                with pool.connection() as conn, conn.transaction():
                    letter = letters.replay(conn, id=int(raw), known_actors=known_actors)
                print(f"replay {raw}: queued as {letter['replay_message_id']}")
            except Refused as refused:
                print(f"replay {raw}: {refused.code} — {refused.message}")
        print("the scheduler's relay publishes the queued messages within seconds")
        return 0
    finally:
        pool.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
