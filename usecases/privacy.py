"""Privacy of selfies and portraits: consent, retention, and a person's "delete my data".

- Consent: a user's selfies are stored only after they accepted the policy (``has_consent``); the web's upload
  refuses without it and the bot answers with a way to give it (``ask_consent_in_bot``).
- Retention: selfies are erased ``selfie_retention_days`` after their avatar was last used (created, given a
  selfie, paid for, a job started or finished), portraits and their archives ``portrait_retention_days`` after
  their job finished (``selfies_delete_at``, ``photos_delete_at`` — the dates the API shows are the ones the
  sweep acts on). Nothing is erased while a job of that avatar runs or money taken for it has not started
  its job; selfies also wait while a payment link for the avatar may still be paid.
- Erasure: ``erase_person`` removes a person's avatars, selfies, portraits, archives and share links and blanks
  their Telegram profile; payments, refunds and referral credits stay, as accounting needs them.

Storage objects are always deleted before the rows change, under the rows' locks: a failure leaves the rows in
place and the next attempt deletes again (deleting a missing object succeeds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from db import outbox
from db import photos as photo_rows
from db import privacy as rows
from gateways.storage import delete_album_of, delete_references_of
from gateways.telegram import inline_keyboard, web_app_button
from telemetry.logs import log

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

    from gateways.storage import Storage
    from settings import Settings

logger = logging.getLogger("usecases.privacy")

POLICY_VERSION = "2025-06"  # a new version asks everyone to accept again
POLICY_PATH = "/privacy"
SWEEP_PAGE = 200
CONSENT_BUTTON = "Открыть PinGlass"


class UserBusy(Exception):
    """The person has a generation running or paid for and not started: erasing now would lose it."""

    code = "USER_BUSY"


@dataclass(frozen=True)
class Erased:
    avatars: int
    references: int
    photos: int


@dataclass(frozen=True)
class Expired:
    avatars: int  # avatars whose selfies were erased
    references: int
    jobs: int  # jobs whose portraits were erased
    photos: int


# --- consent -------------------------------------------------------------------------------------------------

def has_consent(user: Mapping[str, Any]) -> bool:
    """Whether the user accepted the current policy."""
    return user.get("privacy_accepted_at") is not None and user.get("privacy_policy_version") == POLICY_VERSION


def accept(conn: Connection, *, user_id: int, now: datetime) -> dict[str, Any]:
    """Record the user's consent to the current policy (idempotent: the first acceptance's time is kept)."""
    user = rows.accept(conn, id=user_id, version=POLICY_VERSION, now=now)
    if user is None:
        raise LookupError(f"user {user_id} does not exist")
    return user


def consent_text(settings: Settings) -> str:
    return ("Чтобы сохранить ваши фото, нам нужно ваше согласие на их обработку. Откройте PinGlass кнопкой ниже "
            f"и примите условия (что и сколько мы храним: {settings.public_url(POLICY_PATH)}).\n"
            "Это фото не сохранено — после согласия пришлите его ещё раз.")


def ask_consent_in_bot(conn: Connection, *, user_id: int, chat_id: int, media_group_id: str | None,
                       settings: Settings) -> bool:
    """Queue the bot's answer to a photo sent before consent (once per album); True when an answer was queued."""
    if media_group_id is not None and not rows.claim_consent_notice(conn, chat_id=chat_id,
                                                                    media_group_id=media_group_id, user_id=user_id):
        return False
    markup = inline_keyboard([web_app_button(CONSENT_BUTTON, settings.public_url("/app/"))])
    outbox.send(conn, "send_bot_reply", user_id, chat_id, consent_text(settings), markup)
    return True


# --- the dates ---------------------------------------------------------------------------------------------------

def selfies_delete_at(retention: Mapping[str, Any], settings: Settings) -> datetime:
    """When an avatar's selfies are erased, from its ``selfie_retention`` row (held longer while it is busy)."""
    return retention["last_used_at"] + timedelta(days=settings.selfie_retention_days)


def photos_delete_at(job: Mapping[str, Any], settings: Settings) -> datetime | None:
    """When a job's portraits and archive are erased; None until the job has finished."""
    finished = job.get("finished_at")
    return None if finished is None else finished + timedelta(days=settings.portrait_retention_days)


def selfies_delete_dates(conn: Connection, *, avatar_ids: list[int], settings: Settings) -> dict[int, datetime]:
    """``selfies_delete_at`` of each avatar, by id."""
    return {r["avatar_id"]: selfies_delete_at(r, settings) for r in rows.selfie_retention(conn, avatar_ids=avatar_ids)}


def _selfies_due(retention: Mapping[str, Any], settings: Settings, now: datetime) -> bool:
    payment_open = retention["open_payment_until"] is not None and retention["open_payment_until"] > now
    return not retention["busy"] and not payment_open and selfies_delete_at(retention, settings) <= now


def _photos_due(job: Mapping[str, Any], settings: Settings, now: datetime) -> bool:
    due_at = photos_delete_at(job, settings)
    return due_at is not None and due_at <= now


# --- the retention sweep ---------------------------------------------------------------------------------------

def expire_personal_data(pool: ConnectionPool, storage: Storage, settings: Settings, *, now: datetime) -> Expired:
    """Erase every avatar's selfies and every job's portraits whose retention ended by ``now``.

    Each avatar and each job is erased in its own transaction under its avatar's row lock, re-checked there;
    an avatar locked by someone else is left for the next run. A storage failure propagates after what was
    already done has committed.
    """
    avatars, references = _expire_selfies(pool, storage, settings, now)
    jobs, photos = _expire_portraits(pool, storage, settings, now)
    result = Expired(avatars=avatars, references=references, jobs=jobs, photos=photos)
    log(logger, "personal_data_expired", avatars=avatars, references=references, jobs=jobs, photos=photos)
    return result


def _expire_selfies(pool: ConnectionPool, storage: Storage, settings: Settings, now: datetime) -> tuple[int, int]:
    def due(conn: Connection, avatar_ids: list[int]) -> list[tuple[int, int]]:
        return [(r["avatar_id"], r["avatar_id"]) for r in rows.selfie_retention(conn, avatar_ids=avatar_ids)
                if _selfies_due(r, settings, now)]

    def erase(conn: Connection, avatar_id: int) -> int:
        return erase_files(conn, storage, avatar_ids=[avatar_id], job_ids=[])[0]

    avatars = references = 0
    for avatar_id, _, erased in _sweep(pool, rows.avatars_with_selfies, due, erase):
        avatars, references = avatars + 1, references + erased
        log(logger, "selfies_expired", avatar_id=avatar_id, references=erased)
    return avatars, references


def _expire_portraits(pool: ConnectionPool, storage: Storage, settings: Settings, now: datetime) -> tuple[int, int]:
    def due(conn: Connection, job_ids: list[int]) -> list[tuple[int, int]]:
        jobs = [job for job in rows.jobs_by_ids(conn, job_ids=job_ids) if _photos_due(job, settings, now)]
        busy = {r["avatar_id"] for r in rows.selfie_retention(
            conn, avatar_ids=sorted({job["avatar_id"] for job in jobs})) if r["busy"]}
        return [(job["id"], job["avatar_id"]) for job in jobs if job["avatar_id"] not in busy]

    def erase(conn: Connection, job_id: int) -> int:
        return erase_files(conn, storage, avatar_ids=[], job_ids=[job_id])[1]

    jobs = photos = 0
    for job_id, avatar_id, erased in _sweep(pool, rows.jobs_with_live_photos, due, erase):
        jobs, photos = jobs + 1, photos + erased
        log(logger, "portraits_expired", job_id=job_id, avatar_id=avatar_id, photos=erased)
    return jobs, photos


def _sweep(pool: ConnectionPool, page_of: Callable[..., list[int]],
           due: Callable[[Connection, list[int]], list[tuple[int, int]]],
           erase: Callable[[Connection, int], int]) -> Iterator[tuple[int, int, int]]:
    """Erase what is due, one item (an avatar's selfies, a job's portraits) at a time; yield (its id, its
    avatar's id, how many objects went) for each erased.

    ``page_of`` reads the ids in keyset pages of SWEEP_PAGE; ``due`` picks the due ones as (id, avatar id). Each
    is erased in its own transaction under its avatar's row lock and ``due`` is asked again there, since an
    upload or an order may have arrived since the page was read; an avatar locked by someone else is skipped.
    """
    after = 0
    while True:
        with pool.connection() as conn:
            page = page_of(conn, after_id=after, limit=SWEEP_PAGE)
            candidates = due(conn, page)
        for item_id, avatar_id in candidates:
            with pool.connection() as conn, conn.transaction():
                if not rows.lock_avatar_nowait(conn, id=avatar_id) or not due(conn, [item_id]):
                    continue
                erased = erase(conn, item_id)
            yield item_id, avatar_id, erased
        if len(page) < SWEEP_PAGE:
            return
        after = page[-1]


def erase_files(conn: Connection, storage: Storage, *, avatar_ids: list[int], job_ids: list[int]) -> tuple[int, int]:
    """Erase the avatars' selfies and the jobs' portraits and archives; how many (selfies, portraits).

    The objects go first, then the rows (selfies deleted, portraits marked deleted: they account for payments),
    all under the caller's transaction and locks, so a storage failure leaves the rows for a retry rather than
    rows pointing at nothing or objects nobody can find again.
    """
    for avatar_id in avatar_ids:
        delete_references_of(storage, avatar_id)
    for job_id in job_ids:
        delete_album_of(storage, job_id)
    references = rows.delete_references_of_avatars(conn, avatar_ids=avatar_ids)
    return len(references), len(photo_rows.erase_photos_of_jobs(conn, job_ids=job_ids))


# --- "delete my data" --------------------------------------------------------------------------------------------

def erase_person(pool: ConnectionPool, storage: Storage, *, user_id: int, now: datetime) -> Erased:
    """Erase everything personal of the user: every avatar (soft-deleted), selfie (rows deleted), portrait and
    archive (objects deleted, rows marked deleted — they account for payments), share link (revoked), the
    handled bot updates they sent, their Telegram names, username, language and consent, and the e-mail their
    receipts were sent to. Payments,
    refunds and referral credits stay. Idempotent. Raises UserBusy while a job runs or a paid payment has not
    started its job."""
    with pool.connection() as conn, conn.transaction():
        # The user's row, then their avatars: the order the bot (user, then avatar) and uploads (avatar) lock in.
        user = rows.lock_user(conn, id=user_id)
        if user is None:
            raise LookupError(f"user {user_id} does not exist")
        avatars = rows.avatars_of_user(conn, user_id=user_id)
        if rows.user_busy(conn, user_id=user_id):
            raise UserBusy("a generation is paid for or still running; try when it ends")
        job_ids = [job["id"] for job in rows.jobs_of_user(conn, user_id=user_id)]
        references, photos = erase_files(conn, storage, avatar_ids=[avatar["id"] for avatar in avatars],
                                         job_ids=job_ids)
        rows.revoke_shares_of_user(conn, user_id=user_id, now=now)
        erased = rows.soft_delete_avatars_of_user(conn, user_id=user_id, now=now)
        rows.blank_user(conn, id=user_id)
        rows.forget_payment_emails(conn, user_id=user_id)
        updates = rows.forget_bot_updates(conn, telegram_id=user["telegram_id"])
    log(logger, "person_erased", user_id=user_id, avatars=len(erased), references=references, photos=photos,
        jobs=len(job_ids), bot_updates=updates)
    return Erased(avatars=len(erased), references=references, photos=photos)
