"""Work that must not run twice at once: an album's delivery, one per job (a sweeper's re-send racing a slow
original would both send a chunk still marked 'sending')."""

from __future__ import annotations

from db import locks
from runtime import Services
from usecases import delivery


def deliver_album_alone(services: Services, *, job_id: int) -> bool:
    """Deliver the job's album (``usecases.delivery.deliver_album``) under the job's delivery lock; False,
    having done nothing, when another delivery of the job holds it."""
    with locks.try_lock(services.pool, locks.DELIVERY, job_id) as locked:
        if not locked:
            return False
        delivery.deliver_album(services, job_id=job_id)
    return True
