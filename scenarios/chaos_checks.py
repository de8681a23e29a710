"""The chaos run's verdict: every invariant (I1–I5, I7) checked from the evidence ``scenarios.chaos_evidence``
gathered (the database and the fakes' own records), and the windows the design admits (ARCHITECTURE,
"Exactly-once effects") measured rather than hidden.

``evaluate`` turns that evidence into PASS/FAIL checks with numbers and a dict of measured windows. A measured
window is never a failure by itself: an orphan Kie task (the createTask intent window) or a duplicate Telegram
send (a lost answer) is counted and reported.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from rules.money import prorated_refund
from rules.states import TBANK_TO_PAYMENT
from scenarios.chaos_evidence import Evidence

PAID_AT_BANK = frozenset({"CONFIRMED", "PARTIAL_REFUNDED", "REFUNDED"})
PAYMENT_RANK = {"new": 0, "authorized": 1, "confirmed": 2, "partially_refunded": 3, "refunded": 4,
                "canceled": 2, "expired": 2, "rejected": 2}
OPEN_JOB = frozenset({"queued", "generating", "delivering"})
LIVE_TASK = frozenset({"pending", "submitting", "submitted", "succeeded"})
ENDED_TASK = frozenset({"failed", "given_up"})


@dataclass
class Check:
    """One invariant's verdict: ``summary`` carries the numbers, ``problems`` the first offending records."""

    name: str
    passed: bool
    summary: str
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0


def evaluate(ev: Evidence, *, settled: bool, settle_timeout_s: float) -> tuple[list[Check], dict[str, Any]]:
    """The checks (in report order) and the measured windows; ``settled``: every paid job ended in time."""
    windows: dict[str, Any] = {}
    checks = [check_purchases(ev, settled, settle_timeout_s, windows), check_i1(ev), check_i2(ev, windows),
              check_i3(ev, windows), check_i4(ev, windows), check_i5(ev), check_i7(ev), check_dead_letters(ev)]
    windows["redelivery"] = redelivery(ev)
    windows["outbox_drain"] = outbox_drain(ev)
    windows["tally"] = tally(ev, checks)
    return checks, windows


def _check(name: str, problems: list[str], summary: str) -> Check:
    return Check(name, not problems, summary, problems[:25], len(problems))


def _bank_payments(ev: Evidence) -> dict[str, dict[str, Any]]:
    return {p["payment_id"]: p for p in ev.bank["payments"]}


def _star_charges(ev: Evidence) -> tuple[set[str], Counter[str]]:
    """Telegram's own record of Stars: the charges it took, and how many refunds each charge had."""
    items = ev.telegram.get("star_transactions", [])
    return ({t["id"] for t in items if "source" in t}, Counter(t["id"] for t in items if "receiver" in t))


def _paid_payments(ev: Evidence) -> list[dict[str, Any]]:
    """Our payment rows that the bank (card) or Telegram (Stars) says were paid, whatever we think of them."""
    bank, (charges, _) = _bank_payments(ev), _star_charges(ev)
    return [p for p in ev.db["payments"]
            if (p["provider_payment_id"] in bank and bank[p["provider_payment_id"]]["status"] in PAID_AT_BANK)
            or (p.get("rail") == "stars" and p.get("telegram_payment_charge_id") in charges)]


def _stars(payment: dict[str, Any]) -> bool:
    return payment.get("rail") == "stars"


UNKNOWN_OUTCOME_PREFIX = "outcome unknown"  # usecases.sending.UNKNOWN_OUTCOME: a send never repeated


def _unknown_outcome_photos(ev: Evidence) -> set[int]:
    """Photo ids of chunks whose send had an unknown outcome (its answer lost, or the worker died mid-call): by
    the fleet's policy (usecases/sending.py) never sent again; the gallery holds them, the summary says so."""
    return {pid for c in ev.db.get("chunks", []) if (c.get("last_error") or "").startswith(UNKNOWN_OUTCOME_PREFIX)
            for pid in c.get("photo_ids") or []}


def _blocked_chats(ev: Evidence) -> set[int]:
    return {int(chat) for chat in ev.telegram.get("blocked_chats", [])}


def check_i1(ev: Evidence) -> Check:
    per_payment = Counter(j["payment_id"] for j in ev.db["jobs"] if j["payment_id"] is not None)
    problems = [f"payment {pid} has {n} jobs" for pid, n in per_payment.items() if n > 1]
    return _check("I1 at most one job per payment", problems,
                  f"{len(_paid_payments(ev))} paid payments, {sum(per_payment.values())} jobs, "
                  f"at most {max(per_payment.values(), default=0)} per payment")


def _chat_photos(ev: Evidence) -> dict[int, list[str]]:
    """sha256 of every photo each chat received, one entry per message (an album is one message per photo)."""
    chats: dict[int, list[str]] = {}
    for chat_id, messages in ev.telegram["chats"].items():
        chats[int(chat_id)] = [m["photos"][-1]["sha256"] for m in messages if m.get("photos")]
    return chats


def check_i2(ev: Evidence, windows: dict[str, Any]) -> Check:
    photos = defaultdict(list)
    for photo in ev.db["photos"]:
        photos[photo["job_id"]].append(photo)
    refunded = Counter()
    for refund in ev.db["refunds"]:
        if refund["status"] == "succeeded" and refund["job_id"] is not None:
            refunded[refund["job_id"]] += refund["photos_refunded"]
    for credit in ev.db.get("credits", []):
        if credit["kind"] == "granted":
            refunded[credit["job_id"]] += credit["photos"]  # the Stars rail's partial policy: free portraits
    chats, users = _chat_photos(ev), {p["user_id"]: p["telegram_id"] for p in ev.db["payments"]}
    blocked, unknown = _blocked_chats(ev), _unknown_outcome_photos(ev)
    problems, totals = [], Counter()
    for job in ev.db["jobs"]:
        jid, mine = job["id"], photos[job["id"]]
        totals.update(ordered=job["total_photos"], stored=job["photos_stored"], failed=job["photos_failed"])
        if job["photos_stored"] + job["photos_failed"] != job["total_photos"]:
            problems.append(f"job {jid}: stored {job['photos_stored']} + failed {job['photos_failed']} "
                            f"!= total {job['total_photos']}")
        if len(mine) != job["photos_stored"]:
            problems.append(f"job {jid}: {len(mine)} photo rows but photos_stored {job['photos_stored']}")
        doubled = [i for i, n in Counter(p["prompt_index"] for p in mine).items() if n > 1]
        if doubled:
            problems.append(f"job {jid}: duplicate prompt indexes {doubled}")
        in_chat = chats.get(users[job["user_id"]], [])
        ours = {p["sha256"] for p in mine}
        seen = set(in_chat)
        totals.update(chat=len(in_chat), distinct=len(seen & ours), duplicates=len(in_chat) - len(seen))
        unsent = {p["sha256"] for p in mine if p["id"] in unknown} - seen
        if users[job["user_id"]] in blocked:
            totals.update(gallery_only=len(ours - seen))  # the person blocked the bot: the gallery holds them
        else:
            totals.update(unknown_outcome=len(unsent))
            if ours - seen - unsent:
                problems.append(f"job {jid}: {len(ours - seen - unsent)} stored photos never reached the chat")
        if seen - ours:
            problems.append(f"job {jid}: {len(seen - ours)} photos in the chat that are not this job's")
        owed = _owed(job)
        totals.update(owed=owed, refunded=refunded[jid])
        if job["status"] in ("delivered", "delivered_partial", "failed") and refunded[jid] != owed:
            problems.append(f"job {jid}: {owed} photos missing but {refunded[jid]} refunded or credited")
    stored_slots = {(p["job_id"], p["prompt_index"]) for p in ev.db["photos"]}
    last = {(t["job_id"], t["prompt_index"]): t for t in sorted(ev.db["tasks"], key=lambda t: t["attempt"])}
    windows["missing_by_cause"] = dict(Counter(f"{t['status']}:{t['fail_code']}" for slot, t in last.items()
                                               if slot not in stored_slots))
    lost = [e for e in ev.telegram["errors"] if e["status"] == 502]
    admins = ev.telegram["chats"].get(str(ev.admin_chat_id), [])
    windows["telegram"] = {"duplicate_photos": totals["duplicates"], "lost_answers": len(lost),
                           "duplicate_texts": duplicate_texts(ev)[0],
                           "rate_limited_429": len(ev.telegram["rejections"]),
                           "admin_chat_messages": len(admins),
                           "alerts_raised": sum(a["n"] for a in ev.db["alerts"])}
    return _check("I2 exact photos per job, none doubled, refund iff missing", problems,
                  f"{len(ev.db['jobs'])} jobs: {totals['ordered']} ordered = {totals['stored']} stored + "
                  f"{totals['failed']} failed; chats hold {totals['chat']} photos = {totals['distinct']} distinct "
                  f"+ {totals['duplicates']} duplicate sends ({totals['gallery_only']} only in the gallery: bot "
                  f"blocked; {totals['unknown_outcome']} only in the gallery: a send of unknown outcome, not "
                  f"repeated); {totals['refunded']}/{totals['owed']} missing photos refunded (Stars: credited)")


def duplicate_texts(ev: Evidence) -> tuple[int, int]:
    """(texts sent more often than meant, texts sent) over the buyers' chats. Per chat and text, what the chat
    holds beyond what we meant to send: the bot replies queued with that text (the outbox's send_bot_reply rows),
    else one (an album's summary, a refund notice: one chunk each, never re-sent). The admins' chat is left out:
    two alerts of one kind read the same and are two messages meant."""
    meant = Counter((int(r["chat_id"]), r["text"]) for r in ev.db.get("replies", []))
    seen = Counter((int(chat), m["text"]) for chat, messages in ev.telegram["chats"].items()
                   if int(chat) != ev.admin_chat_id for m in messages if m.get("text"))
    return sum(max(0, n - max(1, meant[key])) for key, n in seen.items()), sum(seen.values())


def _owed(job: dict[str, Any]) -> int:
    """Photos a job must refund: what it could not make (everything it lacks, when it failed outright)."""
    return job["total_photos"] - job["photos_stored"] if job["status"] == "failed" else job["photos_failed"]


def check_i3(ev: Evidence, windows: dict[str, Any]) -> Check:
    ours = {t["kie_task_id"]: t for t in ev.db["tasks"] if t["kie_task_id"]}
    problems, counts = [], Counter()
    for task in ev.kie["tasks"]:
        mine = ours.get(task["task_id"])
        if mine is None:
            counts["orphan_" + task["state"]] += 1
        elif task["state"] == "success":
            counts["stored" if mine["status"] == "stored" else "ended" if mine["status"] in ENDED_TASK else "open"] += 1
            if mine["status"] not in ENDED_TASK | {"stored"}:
                problems.append(f"Kie task {task['task_id']} succeeded but our task {mine['id']} is {mine['status']}")
    missing = [p["storage_key"] for p in ev.db["photos"] if p["storage_key"] not in ev.s3_keys]
    problems += [f"photo object missing in S3: {key}" for key in missing]
    orphans = sum(n for kind, n in counts.items() if kind.startswith("orphan_"))
    windows["kie"] = {"tasks_at_kie": len(ev.kie["tasks"]), "orphan_tasks": orphans,
                      "orphan_succeeded": counts["orphan_success"], "counts": ev.kie["counts"]}
    succeeded = sum(1 for t in ev.kie["tasks"] if t["state"] == "success")
    return _check("I3 every photo Kie made is stored or its task failed", problems,
                  f"{succeeded} Kie successes: {counts['stored']} stored, {counts['ended']} marked failed/given up, "
                  f"{counts['orphan_success']} orphans never recorded (createTask window; {orphans} orphan tasks "
                  f"in all); {len(ev.db['photos']) - len(missing)}/{len(ev.db['photos'])} photo objects in S3")


def check_i4(ev: Evidence, windows: dict[str, Any]) -> Check:
    jobs = {j["payment_id"]: j for j in ev.db["jobs"] if j["payment_id"] is not None}
    problems = []
    for payment in _paid_payments(ev):
        job = jobs.get(payment["id"])
        if PAYMENT_RANK.get(payment["status"], 0) < PAYMENT_RANK["confirmed"]:
            problems.append(f"payment {payment['id']} paid at the bank but {payment['status']} here")
        if job is None:
            problems.append(f"payment {payment['id']} paid but has no job")
    open_jobs = [j for j in ev.db["jobs"] if j["status"] in OPEN_JOB]
    problems += [f"job {j['id']} still {j['status']}" for j in open_jobs]
    ended = {j["id"] for j in ev.db["jobs"] if j["status"] not in OPEN_JOB}
    live = [t for t in ev.db["tasks"] if t["job_id"] in ended and t["status"] in LIVE_TASK]
    problems += [f"task {t['id']} of finished job {t['job_id']} still {t['status']}" for t in live]
    durations = [float(j["duration_s"]) for j in ev.db["jobs"] if j["duration_s"] is not None]
    windows["job_duration_s"] = {"max": round(max(durations, default=0), 1),
                                 "median": round(statistics.median(durations), 1) if durations else 0}
    statuses = Counter(j["status"] for j in ev.db["jobs"])
    alerts = {a["kind"]: a["n"] for a in ev.db["alerts"]}
    return _check("I4 every paid job terminal, none left open", problems,
                  f"{len(_paid_payments(ev))} paid, job statuses {dict(statuses)}, {len(live)} live tasks of "
                  f"finished jobs; longest job {windows['job_duration_s']['max']} s; admin alerts {alerts or 'none'}")


def check_i5(ev: Evidence) -> Check:
    problems: list[str] = []
    events = defaultdict(list)
    for event in ev.db["events"]:
        events[event["provider_payment_id"]].append(event["status"])
    for pid, seen in ev.observed.items():
        ranks = [PAYMENT_RANK[s] for s in seen]
        if any(later < earlier for earlier, later in zip(ranks, ranks[1:], strict=False)):
            problems.append(f"payment {pid} moved backwards: {' → '.join(seen)}")
    for payment in ev.db["payments"]:
        mine, provider = payment["status"], payment["provider_payment_id"]
        reached = [TBANK_TO_PAYMENT[s] for s in events[provider] if s in TBANK_TO_PAYMENT]
        if reached and PAYMENT_RANK[mine] < max(PAYMENT_RANK[s] for s in reached):
            problems.append(f"payment {payment['id']} is {mine} behind its events {events[provider]}")
        at_bank = ev.bank_states.get(provider)
        if at_bank in TBANK_TO_PAYMENT and TBANK_TO_PAYMENT[at_bank] != mine:
            problems.append(f"payment {payment['id']} is {mine} here but {at_bank} by GetState")
    if ev.forged is not None and not 400 <= ev.forged["http_status"] < 500:
        problems.append(f"a REFUNDED notification with a wrong Token was answered {ev.forged['http_status']}")
    notes = ev.bank["notifications"]
    delivered, gave_up = sum(1 for n in notes if n["delivered"]), sum(1 for n in notes if n["gave_up"])
    return _check("I5 payment states never move backwards, match the bank", problems,
                  f"{len(ev.observed)} payments watched; the bank sent {len(notes)} notifications (copies "
                  f"included: {delivered} answered OK, {gave_up} given up), {len(ev.db['events'])} distinct "
                  f"events recorded; {len(ev.bank_states)} payments compared with GetState; a forged notification "
                  f"answered {ev.forged['http_status'] if ev.forged else '-'}")


def check_i7(ev: Evidence) -> Check:
    bank, problems = _bank_payments(ev), []
    ours = defaultdict(int)
    for refund in ev.db["refunds"]:
        if refund["status"] == "succeeded":
            ours[refund["payment_id"]] += refund["amount_kopecks"]
    credits = defaultdict(list)
    for credit in ev.db["referrals"]:
        credits[credit["payment_id"]].append(credit)
    jobs = {j["payment_id"]: j for j in ev.db["jobs"] if j["payment_id"] is not None}
    started, paid_sum, refunded_sum, bank_sum = set(jobs), 0, 0, 0
    _, star_refunds = _star_charges(ev)
    for payment in ev.db["payments"]:
        pid, amount = payment["id"], payment["amount_kopecks"]
        if _stars(payment):
            problems += _stars_money(payment, ours[pid], star_refunds, jobs.get(pid))
            paid_sum += amount if pid in started else 0
            refunded_sum += payment["refunded_kopecks"]
            expected = 1 if payment["referred_by"] is not None and pid in started else 0
            if len(credits[pid]) != expected:
                problems.append(f"payment {pid}: {len(credits[pid])} referral credits, expected {expected}")
            continue
        at_bank = bank.get(payment["provider_payment_id"], {"refunds": []})
        bank_refunds = [r["amount"] for r in at_bank["refunds"] if r["status"] != "CANCELED"]
        keys = Counter(r["external_request_id"] for r in at_bank["refunds"])
        paid_sum += amount if pid in started else 0
        refunded_sum, bank_sum = refunded_sum + payment["refunded_kopecks"], bank_sum + sum(bank_refunds)
        if payment["refunded_kopecks"] > amount or ours[pid] > amount:
            problems.append(f"payment {pid}: refunded {payment['refunded_kopecks']} of {amount}")
        if not ours[pid] == payment["refunded_kopecks"] == sum(bank_refunds):
            problems.append(f"payment {pid}: our refunds {ours[pid]}, recorded {payment['refunded_kopecks']}, "
                            f"bank {sum(bank_refunds)}")
        problems += [f"payment {pid}: ExternalRequestId {k} refunded {n} times" for k, n in keys.items() if n > 1]
        job = jobs.get(pid)
        owed = _owed(job) if job is not None and job["status"] not in OPEN_JOB else 0
        if owed and ours[pid] != prorated_refund(amount, job["total_photos"], owed):
            problems.append(f"payment {pid}: refunded {ours[pid]} for {owed} of {job['total_photos']} photos, "
                            f"expected {prorated_refund(amount, job['total_photos'], owed)}")
        expected = 1 if payment["referred_by"] is not None and pid in started else 0
        if len(credits[pid]) != expected:
            problems.append(f"payment {pid}: {len(credits[pid])} referral credits, expected {expected}")
        for credit in credits[pid]:
            if credit["amount_kopecks"] != amount * ev.referral_percent // 100:
                problems.append(f"payment {pid}: referral credit {credit['amount_kopecks']} is not "
                                f"{ev.referral_percent}% of {amount}")
    cancels = Counter(r["body"].get("ExternalRequestId") for r in ev.bank["requests"]
                      if r["method"] == "Cancel" and isinstance(r["body"], dict))
    return _check("I7 money: refunds within paid, equal to the bank's, one referral credit", problems,
                  f"paid {paid_sum / 100:.2f} ₽; refunded {refunded_sum / 100:.2f} ₽ here, {bank_sum / 100:.2f} ₽ "
                  f"at the bank, in {sum(1 for r in ev.db['refunds'] if r['status'] == 'succeeded')} refunds "
                  f"(Cancel called {sum(cancels.values())} times for {len(cancels)} ExternalRequestIds); "
                  f"{len(ev.db['referrals'])} referral credits")


def _stars_money(payment: dict[str, Any], ours: int, star_refunds: Counter[str],
                 job: dict[str, Any] | None) -> list[str]:
    """A Stars payment: a refund is the whole charge, once at Telegram, exactly when its job made nothing."""
    pid, charge, problems = payment["id"], payment.get("telegram_payment_charge_id"), []
    at_telegram = star_refunds.get(charge, 0) if charge else 0
    if ours != payment["refunded_kopecks"]:
        problems.append(f"payment {pid} (Stars): our refunds {ours}, recorded {payment['refunded_kopecks']}")
    if at_telegram > 1:
        problems.append(f"payment {pid} (Stars): Telegram refunded the charge {at_telegram} times")
    if (at_telegram == 1) != (ours > 0):
        problems.append(f"payment {pid} (Stars): {at_telegram} refunds at Telegram, {ours} kopecks refunded here")
    made_nothing = job is not None and job["status"] == "failed"
    if made_nothing and ours != payment["amount_kopecks"]:
        problems.append(f"payment {pid} (Stars): its job made nothing but {ours} of {payment['amount_kopecks']} "
                        "refunded")
    if job is not None and job["status"] not in OPEN_JOB and not made_nothing and ours:
        problems.append(f"payment {pid} (Stars): refunded {ours} though its job delivered")
    return problems


def check_dead_letters(ev: Evidence) -> Check:
    letters = ev.db["dead_letters"]
    problems = [f"#{d['id']} {d['actor']} after {d['attempts']} attempts: {d['error'][:160]}" for d in letters]
    return _check("Dead letters (expected 0)", problems, f"{len(letters)} dead letters")


def redelivery(ev: Evidence) -> list[dict[str, Any]]:
    """Per SIGKILL: the messages the killed group held, when Redis gave them back (observed), and when their
    redelivered copies were processed (processed_messages timestamps, for actors that keep a dedup row)."""
    processed = {r["message_id"]: float(r["at"]) for r in ev.processed}
    result = []
    for kill in ev.kills:
        after = sorted(processed[m] - kill["at"] for m in kill["in_flight"] if processed.get(m, 0) > kill["at"])
        before = sum(1 for m in kill["in_flight"] if 0 < processed.get(m, 0) <= kill["at"])
        result.append({"target": kill["target"], "t_s": kill["t_s"], "in_flight": len(kill["in_flight"]),
                       "held": kill.get("held", len(kill["in_flight"])),
                       "by_actor": kill["by_actor"], "requeued_after_s": kill.get("requeued_after_s"),
                       "reprocessed": len(after), "effect_committed_before_kill": before,
                       "no_dedup_row": len(kill["in_flight"]) - len(after) - before,
                       "reprocessed_after_s": {"min": round(after[0], 1), "median": round(statistics.median(after), 1),
                                               "max": round(after[-1], 1)} if after else None})
    return result


def outbox_drain(ev: Evidence) -> dict[str, Any] | None:
    """Rows the outbox held for the broker when Redis came back, and how long the relay took to publish them."""
    if ev.outage is None or ev.drain is None:
        return None
    last = ev.drain["last_published"]
    return {"outage_s": round(ev.outage["up_at"] - ev.outage["down_at"], 1), "waiting": ev.drain["waiting"],
            "unpublished": ev.drain["unpublished"],
            "drained_after_s": round(float(last) - ev.outage["up_at"], 1) if last is not None else 0.0}


def check_purchases(ev: Evidence, settled: bool, timeout_s: float, windows: dict[str, Any]) -> Check:
    """The scenario itself happened: every buyer paid over HTTP, those paying on Redis's outage paid inside it,
    and every paid job ended within the bound."""
    problems = [f"buyer {o['index']} ({o['buyer']['tier']}): {o['error']}" for o in ev.orders if o["error"]]
    if not settled:
        problems.append(f"not every paid job was terminal {timeout_s:.0f} s after the timeline")
    started = {j["payment_id"]: float(j["created_epoch"]) for j in ev.db["jobs"]}
    during = [o for o in ev.orders if o["buyer"]["pay_on"] == "redis_down" and o["paid_at"]]
    for order in during:
        if ev.outage is None or not ev.outage["down_at"] <= order["paid_at"] <= ev.outage.get("up_at", 0):
            problems.append(f"buyer {order['index']} did not pay during the Redis outage")
    if ev.outage and "up_at" in ev.outage:
        windows["paid_during_outage"] = [
            {"buyer": o["index"], "job_started_after_redis_back_s":
                round(started[o["payment_id"]] - ev.outage["up_at"], 1) if o["payment_id"] in started else None}
            for o in during]
    paid = sum(1 for o in ev.orders if o["paid_at"])
    invited = sum(1 for o in ev.orders if o["buyer"]["invited_by"] is not None)
    return _check("Purchases driven over HTTP, paid jobs ended in time", problems,
                  f"{paid}/{len(ev.orders)} paid ({len(during)} while Redis was down, {invited} through invite "
                  f"links); every paid job terminal: {'yes' if settled else 'NO'}")


DUPLICATE_ITEMS_LIMIT = 0.01  # duplicate Telegram items allowed, as a share of the items sent


def tally(ev: Evidence, checks: list[Check]) -> dict[str, Any]:
    """The run in numbers, each counted from the database and the fakes' records together, and ``ok``: every job
    terminal, nothing lost, nothing charged twice, no photo stored twice, refunds exact, duplicate Telegram
    items within 1 % of the items sent, and every check passed."""
    jobs, photos = ev.db["jobs"], ev.db["photos"]
    chats, blocked = _chat_photos(ev), _blocked_chats(ev)
    users = {p["user_id"]: p["telegram_id"] for p in ev.db["payments"]}
    mine: dict[int, set[str]] = defaultdict(set)
    for photo in photos:
        mine[photo["job_id"]].add(photo["sha256"])
    unknown_ids = _unknown_outcome_photos(ev)
    unknown_sha = {p["sha256"] for p in photos if p["id"] in unknown_ids}
    delivered = gallery_only = unknown_outcome = undelivered = 0
    for job in jobs:
        seen = set(chats.get(users.get(job["user_id"], -1), []))
        delivered += len(mine[job["id"]] & seen)
        if users.get(job["user_id"]) in blocked:
            gallery_only += len(mine[job["id"]] - seen)
        else:
            unknown_outcome += len((mine[job["id"]] - seen) & unknown_sha)
            undelivered += len(mine[job["id"]] - seen - unknown_sha)
    unaccounted = sum(max(0, j["total_photos"] - j["photos_stored"] - j["photos_failed"]) for j in jobs
                      if j["status"] not in OPEN_JOB)
    not_in_s3 = sum(1 for p in photos if p["storage_key"] not in ev.s3_keys)
    slots = Counter((p["job_id"], p["prompt_index"]) for p in photos)
    doubled_texts, texts_sent = duplicate_texts(ev)
    photo_items = sum(len(items) for items in chats.values())
    duplicate_items = sum(len(items) - len(set(items)) for items in chats.values()) + doubled_texts
    items_sent = photo_items + texts_sent
    per_payment = Counter(j["payment_id"] for j in jobs if j["payment_id"] is not None)
    credits = Counter(c["payment_id"] for c in ev.db["referrals"])
    cancels = Counter(r["body"].get("ExternalRequestId") for r in ev.bank["requests"]
                      if r["method"] == "Cancel" and isinstance(r["body"], dict))
    i7 = next((c for c in checks if c.name.startswith("I7")), None)
    i2_refunds = next((c for c in checks if c.name.startswith("I2")), None)
    refund_errors = (i7.problem_count if i7 else 0) + sum(1 for p in (i2_refunds.problems if i2_refunds else [])
                                                          if "refunded or credited" in p)
    dead = len(ev.db["dead_letters"])
    numbers: dict[str, Any] = {
        "jobs": len(jobs), "terminal": sum(1 for j in jobs if j["status"] not in OPEN_JOB),
        "stuck": sum(1 for j in jobs if j["status"] in OPEN_JOB),
        "by_rail": dict(Counter(p.get("rail", "tbank") for p in _paid_payments(ev))),
        "photos_expected": sum(j["total_photos"] for j in jobs), "photos_stored": len(photos),
        "photos_failed": sum(j["photos_failed"] for j in jobs), "photos_delivered": delivered,
        "photos_gallery_only": gallery_only, "photos_unknown_outcome": unknown_outcome,
        "lost_photos": unaccounted + not_in_s3 + undelivered,
        "duplicate_photos": sum(n - 1 for n in slots.values() if n > 1),
        "telegram_items_sent": items_sent, "duplicate_telegram_items": duplicate_items,
        "double_consumed_payments": sum(1 for n in per_payment.values() if n > 1),
        "referral_double_credits": sum(1 for n in credits.values() if n > 1),
        "refund_errors": refund_errors, "cancel_calls": sum(cancels.values()), "dead_letters": dead,
        "alerts": {a["kind"]: a["n"] for a in ev.db["alerts"]},
    }
    numbers["duplicate_telegram_share"] = round(duplicate_items / items_sent, 4) if items_sent else 0.0
    numbers["ok"] = (numbers["stuck"] == 0 and numbers["lost_photos"] == 0 and numbers["duplicate_photos"] == 0
                     and numbers["double_consumed_payments"] == 0 and numbers["referral_double_credits"] == 0
                     and refund_errors == 0 and numbers["duplicate_telegram_share"] <= DUPLICATE_ITEMS_LIMIT
                     and all(c.passed for c in checks))
    return numbers
