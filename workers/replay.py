"""Operators' command for dead letters: ``python -m workers.replay list`` / ``python -m workers.replay ID…``,
and ``python -m workers.replay refund JOB_ID`` to retry the refund a job owes (e.g. one the bank refused).

A replay queues the message again through the outbox (a new message id) and marks the letter replayed."""

from __future__ import annotations

import os
import sys

from db import messages, outbox
from db.pool import open_pool
from settings import Settings


def main(argv: list[str]) -> int:
    settings = Settings.from_env(os.environ)
    pool = open_pool(settings.database_url, max_size=2)
    try:
        if not argv or argv[0] == "list":
            with pool.connection() as conn:
                for row in messages.list_dead_letters(conn, open_only=True):
                    print(f"{row['id']}\t{row['actor']}\t{row['attempts']}\t{row['created_at']:%Y-%m-%d %H:%M}"
                          f"\t{row['error'][:100]}")
            return 0
        if argv[0] == "refund":
            with pool.connection() as conn, conn.transaction():
                queued = [outbox.send(conn, "refund_job", int(job_id)) for job_id in argv[1:]]
            print(f"refund: queued {len(queued)} refund_job message(s)")
            return 0
        for raw in argv:
            with pool.connection() as conn, conn.transaction():
                new_id = messages.replay_dead_letter(conn, id=int(raw))
            print(f"replay {raw}: {'queued as ' + new_id if new_id else 'not found or already replayed'}")
        print("the scheduler's relay publishes the queued messages within seconds")
        return 0
    finally:
        pool.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
