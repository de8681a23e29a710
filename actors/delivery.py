"""deliver_album: the job's photos as Telegram albums, the summary, the refund and the job's terminal state
(``usecases.delivery``), one delivery per job at a time. resend_album: an operator's re-send of a delivered
album (``usecases.resend``). notify_admin: an admin alert announced in the admins' chat."""

from __future__ import annotations

import dramatiq

import runtime
from runtime.outcomes import Defer
from usecases import alerts, delivery, resend


@dramatiq.actor(queue_name="telegram", max_retries=8, min_backoff=2000, max_backoff=60_000)
def deliver_album(job_id: int) -> None:
    services = runtime.current()
    # Two deliveries of one job at once (a sweeper's re-send racing a slow original) would both send a chunk
    # still marked 'sending'; the lock lets one work and the other wait its turn.
    if not delivery.deliver_album(services, job_id=job_id):
        raise Defer(1000, "another delivery of this job is running")


@dramatiq.actor(queue_name="telegram", max_retries=8, min_backoff=2000, max_backoff=60_000)
def resend_album(job_id: int, round_: int) -> None:
    if not resend.resend_album(runtime.current(), job_id=job_id, round_=round_):
        raise Defer(3000, "a delivery of this job is running")


@dramatiq.actor(queue_name="telegram", max_retries=5, min_backoff=2000, max_backoff=60_000)
def notify_admin(alert_id: int) -> None:
    alerts.announce(runtime.current(), alert_id=alert_id)
