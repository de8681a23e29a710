"""Which worker process holds a task in 'submitting', and getting the task back fast when that process died.

A task is 'submitting' from its claim (intent recorded) until Kie's answer is recorded. A worker SIGKILLed in
between leaves it there; the idle sweep (``usecases.sweeps``) would wait minutes. Instead every worker process
beats its row in ``worker_processes`` every ``BEAT_EVERY_S`` from a thread of its own (``workers.heartbeat``),
each claim records its process (``process_id``) and a fresh claim token, and the scheduler
(``recover_silent_claims``, every few seconds) returns to pending the tasks whose claimer has been silent for
``SILENT_AFTER_S``, with a new ``create_kie_task`` token each. A live claimer in a slow call keeps beating and is
left alone. Should a claimer only have been slow to beat, its late result carries a token that is no longer
the task's, so it moves nothing (``usecases.generation.task_submitted``) and the Kie task it made is logged as
an orphan. The beats are in Postgres, not Redis: a Redis restart forgets no claim and kills no live worker.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from psycopg import Connection

from db import jobs, outbox, workers
from telemetry.context import correlation_of
from telemetry.logs import log

logger = logging.getLogger("usecases.liveness")

BEAT_EVERY_S = 2.0
# Three missed beats: a live process under load (GIL, a busy machine) is late by a beat, not by three; a dead
# one costs this plus one check period before its tasks are pending again.
SILENT_AFTER_S = 6.0
# A live claimer's claim is its own this long: far past any provider call's timeout (gateways/http.py, 3 + 20 s),
# so only a claimer hung elsewhere loses it to the idle sweep (usecases/sweeps.py).
HUNG_AFTER_S = 300.0
FORGET_AFTER_S = 3600.0  # rows of processes gone this long are deleted

_identity: tuple[int, str] | None = None


def process_id() -> str:
    """This process's claimer id (host:pid:nonce), fixed on first use; a forked child gets its own (the pid
    differs), and the nonce keeps a reused pid from inheriting a dead process's row."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        _identity = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
    return _identity[1]


def beat(conn: Connection) -> None:
    """This worker process is alive (its row's ``beat_at`` is now)."""
    workers.beat(conn, id=process_id(), host=socket.gethostname(), pid=os.getpid())


def recover_silent_claims(conn: Connection, *, silent_s: float = SILENT_AFTER_S) -> int:
    """Return to pending, in the caller's transaction, every 'submitting' task whose claimer has been silent
    for ``silent_s``, each with a new ``create_kie_task`` token; returns how many. Only the same claim (its
    token) is moved, so a task claimed again meanwhile is left to its new claimer."""
    recovered = 0
    for task in workers.silent_claims(conn, silent_s=silent_s):
        if jobs.move_task(conn, id=task["id"], seen="submitting", new="pending",
                          claim_token=task["claim_token"]) is None:
            continue
        recovered += 1
        with correlation_of(task["job_correlation_id"]):
            outbox.send(conn, "create_kie_task", task["job_id"])
            # Kie may have made the task the dead claimer asked for (the measured orphan window).
            log(logger, "task_orphan_risk", task_id=task["id"], job_id=task["job_id"], claimed_by=task["claimed_by"],
                reason="claimer silent")
    workers.forget_silent(conn, older_than_s=FORGET_AFTER_S)
    return recovered
