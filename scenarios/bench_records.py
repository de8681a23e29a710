"""Timestamps of paid orders, read from our database and the Kie fake's records (all as epoch seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from sandbox.client import SandboxClient


@dataclass
class JobRecord:
    job_id: int
    payment_id: int
    tier: str
    status: str
    total: int
    paid_at: float | None
    created_at: float
    finished_at: float | None
    tasks: list[dict[str, Any]] = field(default_factory=list)  # kie_task_id, prompt_index, submitted_at
    photos: dict[int, float] = field(default_factory=dict)  # generated_photos.id → created_at
    photo_of_task: dict[str, float] = field(default_factory=dict)  # kie_task_id → photo created_at
    chunks: list[dict[str, Any]] = field(default_factory=list)  # chunk, kind, photo_ids, sent_at


def jobs_of(conn: psycopg.Connection, payment_ids: list[int]) -> list[JobRecord]:
    found = conn.execute("""
        SELECT j.id, j.payment_id, j.tier, j.status, j.total_photos,
               extract(epoch FROM coalesce(
                   (SELECT min(e.received_at) FROM payment_events e
                     WHERE e.provider_payment_id = p.provider_payment_id AND e.status = 'CONFIRMED'),
                   p.consumed_at)),
               extract(epoch FROM j.created_at), extract(epoch FROM j.finished_at)
          FROM generation_jobs j JOIN payments p ON p.id = j.payment_id
         WHERE j.payment_id = ANY(%s) ORDER BY j.id""", (payment_ids,)).fetchall()
    jobs = {row[0]: JobRecord(row[0], row[1], row[2], row[3], row[4], _f(row[5]), float(row[6]), _f(row[7]))
            for row in found}
    if not jobs:
        return []
    ids = list(jobs)
    for job_id, kie_task_id, index, submitted in conn.execute(
            "SELECT job_id, kie_task_id, prompt_index, extract(epoch FROM submitted_at) FROM generation_tasks "
            "WHERE job_id = ANY(%s) AND kie_task_id IS NOT NULL", (ids,)):
        jobs[job_id].tasks.append({"kie_task_id": kie_task_id, "prompt_index": index, "submitted_at": _f(submitted)})
    for job_id, photo_id, created, kie_task_id in conn.execute(
            "SELECT p.job_id, p.id, extract(epoch FROM p.created_at), t.kie_task_id FROM generated_photos p "
            "JOIN generation_tasks t ON t.id = p.task_id WHERE p.job_id = ANY(%s)", (ids,)):
        jobs[job_id].photos[photo_id] = float(created)
        if kie_task_id:
            jobs[job_id].photo_of_task[kie_task_id] = float(created)
    for job_id, chunk, kind, photo_ids, sent, created in conn.execute(
            "SELECT job_id, chunk, kind, photo_ids, extract(epoch FROM sent_at), extract(epoch FROM created_at) "
            "FROM deliveries WHERE job_id = ANY(%s) ORDER BY job_id, chunk", (ids,)):
        jobs[job_id].chunks.append({"chunk": chunk, "kind": kind, "photo_ids": list(photo_ids), "sent_at": _f(sent),
                                    "created_at": _f(created)})
    return list(jobs.values())


def kie_records(sandbox: SandboxClient) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """The Kie fake's tasks by id (create_ms, complete_ms, latency_ms) and the first delivered callback's time
    (epoch seconds) by task id."""
    state = sandbox.kie.state()
    tasks = {t["task_id"]: t for t in state["tasks"]}
    callbacks: dict[str, float] = {}
    for entry in state["callbacks"]:
        if entry.get("outcome") == "delivered" and "at_ms" in entry:
            callbacks.setdefault(entry["task_id"], entry["at_ms"] / 1000)
    return tasks, callbacks


def chunk_forced_end(job: JobRecord, chat_rate: float, chat_burst: int) -> float | None:
    """When the last photo chunk could have been sent at the earliest under Telegram's per-chat flood limit
    (a bucket of ``chat_burst`` items refilled at ``chat_rate`` per second; a chunk of n photos takes n), each
    chunk sent the moment its last photo was stored and the previous chunk went."""
    tokens, clock, end = float(chat_burst), None, None
    for chunk in job.chunks:
        if chunk["kind"] not in ("album", "photo") or not chunk["photo_ids"]:
            continue
        ready = max(job.photos.get(pid, 0.0) for pid in chunk["photo_ids"])
        start = ready if clock is None else max(ready, clock)
        if clock is not None:
            tokens = min(chat_burst, tokens + (start - clock) * chat_rate)
        need = min(len(chunk["photo_ids"]), chat_burst)
        wait = 0.0 if tokens >= need else (need - tokens) / chat_rate
        clock = start + wait
        tokens = tokens + wait * chat_rate - need
        end = clock
    return end


def last_chunk_sent(job: JobRecord) -> float | None:
    sent = [c["sent_at"] for c in job.chunks if c["kind"] in ("album", "photo") and c["sent_at"]]
    return max(sent) if sent else None


def completion(job: JobRecord) -> dict[str, Any] | None:
    """The job's paid → last album sent, with its tier; None before it was paid or sent anything."""
    sent = last_chunk_sent(job)
    if not job.paid_at or not sent:
        return None
    return {"job_id": job.job_id, "tier": job.tier, "paid_to_album_s": round(sent - job.paid_at, 2)}


def _f(value: Any) -> float | None:
    return None if value is None else float(value)
