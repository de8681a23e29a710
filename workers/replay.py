"""The operators' command, for when the web is down (the same use cases as ``/admin``):

- ``python -m workers.replay list`` — open dead letters; ``… ID…`` replays them; ``… resolve ID REASON…`` closes
  one without a replay, saying why;
- ``… refund JOB_ID…`` retries the refund a job owes (e.g. one the bank or Telegram refused);
- ``… resend JOB_ID [ROUND]`` re-sends a delivered album to the person's chat (``usecases/resend.py``; the same
  round twice sends once; without ROUND, the next one);
- ``… find TERM`` — payments, jobs and people by id, T-Bank PaymentId, OrderId, Telegram charge id, Telegram id
  or @username; ``… payment ID`` — a payment's file (events, receipts, refunds, job, referral);
- ``… pause [REASON]`` / ``… resume`` — stop sending new tasks to Kie, and start again (``usecases/generation.py``).

A replay is ``usecases.dead_letters.replay`` — the same checks as the Replay button on ``/admin``: it queues the
message again through the outbox (a new message id) and marks the letter replayed."""

from __future__ import annotations

import os
import sys
from typing import Any

from db import dead_letters
from db.pool import open_pool
from settings import Settings
from usecases import admin, generation, refunds, resend
from usecases import dead_letters as letters
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
        if argv[0] == "resolve" and len(argv) >= 3:
            try:
                with pool.connection() as conn, conn.transaction():
                    letters.resolve(conn, id=int(argv[1]), resolution=" ".join(argv[2:]))
                print(f"resolve {argv[1]}: closed without a replay")
                return 0
            except Refused as refused:
                print(f"resolve {argv[1]}: {refused.code} — {refused.message}")
                return 1
        if argv[0] == "find" and len(argv) == 2:
            with pool.connection() as conn:
                for row in admin.lookup(conn, term=argv[1]):
                    print(f"{row['kind']}\t{row['id']}\tuser {row['user_id']}\t{row['status']}\t"
                          f"{row['created_at']:%Y-%m-%d %H:%M}")
            return 0
        if argv[0] == "payment" and len(argv) == 2:
            with pool.connection() as conn:
                file = admin.payment_file(conn, payment_id=int(argv[1]))
            if file is None:
                print(f"payment {argv[1]}: not found")
                return 1
            _print_payment(file)
            return 0
        if argv[0] in ("pause", "resume"):
            with pool.connection() as conn, conn.transaction():
                generation.set_generation_paused(conn, paused=argv[0] == "pause", by="cli", reason=" ".join(argv[1:]))
            print("generation paused: nothing new goes to Kie" if argv[0] == "pause" else "generation resumed")
            return 0
        if argv[0] == "refund":
            with pool.connection() as conn, conn.transaction():
                queued = [refunds.queue_refund(conn, job_id=int(job_id)) for job_id in argv[1:]]
            print(f"refund: queued {len(queued)} refund_job message(s)")
            return 0
        if argv[0] == "resend" and len(argv) in (2, 3):
            try:
                with pool.connection() as conn, conn.transaction():
                    asked = resend.queue_resend(conn, job_id=int(argv[1]),
                                                round_=int(argv[2]) if len(argv) == 3 else None)
            except Refused as refused:
                print(f"resend {argv[1]}: {refused.code} — {refused.message}")
                return 1
            print(f"resend {argv[1]}: round {asked['round']} queued as {asked['queued']}")
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


def _print_payment(file: dict[str, Any]) -> None:
    p = file["payment"]
    print(f"payment {p['id']} ({p['rail']}): {p['status']}, {p['amount_kopecks'] / 100:.2f} ₽"
          + (f" / {p['amount_stars']} ⭐" if p["amount_stars"] else "")
          + f", refunded {p['refunded_kopecks'] / 100:.2f} ₽; user {p['user_id']}; order {p['order_id']}; "
          f"PaymentId {p['provider_payment_id']}; charge {p['telegram_payment_charge_id']}; "
          f"correlation {p['correlation_id']}")
    for event in file["events"]:
        print(f"  event   {event['received_at']:%Y-%m-%d %H:%M:%S} {event['status']} {event['amount_kopecks']}")
    for receipt in file["receipts"]:
        print(f"  receipt {receipt['kind']} {receipt['amount_kopecks']} {receipt['receipt_url'] or ''}")
    for refund in file["refunds"]:
        print(f"  refund  {refund['id']} {refund['status']} {refund['amount_kopecks']} ({refund['reason']})")
    job = file["job"]
    print(f"  job     {job['id']} {job['status']} {job['photos_stored']}/{job['total_photos']}" if job
          else "  job     none yet")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
