"""The chaos run's report: the lines it prints (one PASS/FAIL line per check, then the measured windows) and
``chaos-latest.md`` / ``chaos-latest.json``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def window_lines(windows: dict[str, Any]) -> list[str]:
    """The measured windows in words, one line each."""
    kie, tg, lines = windows.get("kie", {}), windows.get("telegram", {}), []
    lines.append(f"orphan Kie tasks (createTask intent window): {kie.get('orphan_tasks')} of {kie.get('tasks_at_kie')} "
                 f"tasks at Kie, {kie.get('orphan_succeeded')} of them succeeded")
    counts = kie.get("counts") or {}
    lines.append(f"Kie: {counts.get('rejected_433', 0)} createTask answered 433 (the exhausted key), "
                 f"{counts.get('rejected_429', 0)} answered 429; {counts.get('record_info_429', 0)} of "
                 f"{counts.get('record_info_calls', 0)} recordInfo calls answered 429 (waited out); "
                 f"{counts.get('callbacks_dropped', 0)} callbacks dropped; injected failures "
                 f"{counts.get('failures', {})}")
    lines.append(f"duplicate Telegram items in the buyers' chats: {tg.get('duplicate_photos')} photos (an album "
                 "sent again after a flood answer that had let its first photos through: Telegram does not say "
                 f"which), {tg.get('duplicate_texts')} texts beyond those meant; {tg.get('lost_answers')} answers "
                 f"lost after the send (never sent again); {tg.get('rate_limited_429')} 429s from Telegram; the "
                 f"admins' chat: {tg.get('admin_chat_messages')} messages for {tg.get('alerts_raised')} alerts")
    kills = windows.get("redelivery", [])
    if len(kills) > 4:  # the supervisor's many kills: in sum
        held = [k["held"] for k in kills]
        again, before = sum(k["reprocessed"] for k in kills), sum(k["effect_committed_before_kill"] for k in kills)
        lines.append(f"{len(kills)} worker SIGKILLs: {sum(1 for n in held if n)} hit a group holding unacked "
                     f"messages ({sum(held)} messages in all, at most {max(held)}); {again} reprocessed, "
                     f"{before} had committed their effect before the kill")
        supervisor = windows.get("supervisor") or {}
        if supervisor:
            lines.append(f"supervisor: {supervisor['restarts']} restarts, {supervisor['failed_starts']} starts that "
                         "failed and were tried again")
        kills = []
    for kill in kills:
        timing, requeued = kill["reprocessed_after_s"], kill["requeued_after_s"]
        if kill["held"] and not kill["in_flight"]:  # RabbitMQ: how many, not which
            lines.append(f"SIGKILL worker {kill['target']} at t={kill['t_s']} s: its channels held {kill['held']} "
                         f"unacknowledged messages; the broker requeued them after {requeued} s (their ids are not "
                         "known on RabbitMQ)")
            continue
        lines.append(
            f"SIGKILL worker {kill['target']} at t={kill['t_s']} s: it held {kill['held']} unacked messages "
            f"{kill['by_actor']}; " + (f"the broker requeued them after {requeued} s; " if requeued is not None else
                                       "nothing was requeued (it held nothing, or Redis lost it first); ")
            + f"{kill['reprocessed']} reprocessed after "
            + (f"{timing['min']}/{timing['median']}/{timing['max']} s (min/median/max)" if timing else "-")
            + f"; {kill['effect_committed_before_kill']} had committed their effect before the kill, "
            f"{kill['no_dedup_row']} left no dedup row (nothing left to do, or an actor without one)")
    drain = windows.get("outbox_drain")
    for service, outage in (windows.get("outages") or {}).items():
        if "up_at" in outage and "down_at" in outage:
            lines.append(f"{service} down for {outage['up_at'] - outage['down_at']:.1f} s")
    if drain:
        lines.append(f"Redis outage {drain['outage_s']} s: {drain['waiting']} outbox rows waiting when it came back, "
                     f"all published {drain['drained_after_s']} s later ({drain['unpublished']} still unpublished)")
    for paid in windows.get("paid_during_outage", []):
        lines.append(f"buyer {paid['buyer']} paid while Redis was down: job started "
                     f"{paid['job_started_after_redis_back_s']} s after Redis came back")
    if windows.get("web_restart_s") is not None:
        lines.append(f"web SIGKILLed: healthy again after {windows['web_restart_s']} s")
    lines.append(f"photos not made, by the last attempt's outcome: {windows.get('missing_by_cause') or 'none'} "
                 f"(the injected faults say '500': Kie's failed generations)")
    duration = windows.get("job_duration_s", {})
    lines.append(f"job duration: median {duration.get('median')} s, max {duration.get('max')} s")
    return lines


TALLY = (("jobs", "jobs"), ("terminal", "terminal"), ("stuck", "stuck"), ("by_rail", "paid, by rail"),
         ("photos_expected", "photos expected"), ("photos_stored", "photos stored"),
         ("photos_delivered", "photos delivered to the chats"),
         ("photos_gallery_only", "photos only in the gallery (bot blocked)"),
         ("photos_unknown_outcome", "photos only in the gallery (their album's send had an unknown outcome: not "
                                    "repeated, by policy)"),
         ("photos_failed", "photos failed"),
         ("lost_photos", "lost photos"), ("duplicate_photos", "duplicate photos"),
         ("telegram_items_sent", "Telegram items sent"), ("duplicate_telegram_items", "duplicate Telegram items"),
         ("duplicate_telegram_share", "duplicate Telegram items / items sent (≤ 0.01)"),
         ("double_consumed_payments", "double-consumed payments"),
         ("referral_double_credits", "referral double credits"),
         ("refund_errors", "refund errors"), ("dead_letters", "dead letters"), ("alerts", "alerts (by kind)"),
         ("ok", "ok"))


def tally_lines(windows: dict[str, Any]) -> list[str]:
    tally = windows.get("tally") or {}
    return [f"{label}: {tally.get(key)}" for key, label in TALLY]


def summary_lines(result: Any) -> list[str]:
    """What the run prints: one PASS/FAIL line per check (with its first problems), then the windows."""
    lines = []
    for check in result.checks:
        lines.append(f"chaos: {'PASS' if check.passed else 'FAIL'}  {check.name} — {check.summary}")
        lines += [f"         ! {problem}" for problem in check.problems[:8]]
    lines += [f"chaos: measured — {line}" for line in window_lines(result.windows)]
    lines += [f"chaos: tally — {line}" for line in tally_lines(result.windows)]
    return lines


def write_report(report_dir: Path, result: Any, *, config: dict[str, Any]) -> Path:
    """``chaos-latest.md`` and ``chaos-latest.json`` in ``report_dir``; returns the Markdown file's path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    verdict = "PASS" if result.passed else "FAIL"
    tally = result.windows.get("tally") or {}
    data = {"verdict": verdict, "ok": tally.get("ok"), "tally": tally, "broker": getattr(result, "config_broker", ""),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_s": result.elapsed_s, "config": config, "faults": result.faults, "timeline": result.timeline,
            "checks": [dataclasses.asdict(c) for c in result.checks], "windows": result.windows,
            "orders": result.orders}
    (report_dir / "chaos-latest.json").write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    md = [f"# Chaos run: {verdict}", "",
          f"{data['finished_at']} · {len(result.orders)} purchases · {len(result.timeline)} faults on the timeline "
          f"· {result.elapsed_s:.0f} s in all · broker {data['broker']}.", "",
          "## Tally", "", "| | |", "|---|---:|", *[f"| {label} | {tally.get(key)} |" for key, label in TALLY], "",
          "Faults at the fakes throughout the run:", "",
          *[f"- {fake}: `{json.dumps(knobs, ensure_ascii=False)}`" for fake, knobs in result.faults.items()], "",
          "## Timeline", "", "t: seconds after the purchases started.", "",
          "| t (s) | fault | detail |", "|---:|---|---|"]
    md += [f"| {e['t_s']} | {e['action']} {e['target']} | {e['detail']} |" for e in result.timeline]
    md += ["", "## Checks", "", "| check | result | numbers |", "|---|---|---|"]
    md += [f"| {c.name} | {'PASS' if c.passed else '**FAIL**'} | {c.summary} |" for c in result.checks]
    for check in (c for c in result.checks if c.problems):
        md += ["", f"**{check.name}**:", *[f"- {problem}" for problem in check.problems]]
    md += ["", "## Measured windows", "", *[f"- {line}" for line in window_lines(result.windows)], "",
           "## Purchases", "", "| # | tier | rail | invited by | pays on | payment | albums in the chat | error |",
           "|---:|---|---|---|---|---:|---|---|"]
    albums = result.windows.get("albums", {})
    for o in result.orders:
        invited = "" if o["buyer"]["invited_by"] is None else o["buyer"]["invited_by"]
        rail = o["buyer"].get("rail", "card") + (" (blocks the bot)" if o["buyer"].get("blocks_bot") else "")
        md.append(f"| {o['index']} | {o['buyer']['tier']} | {rail} | {invited} | {o['buyer']['pay_on'] or ''} | "
                  f"{o['payment_id'] or ''} | {albums.get(o['telegram_id'], [])} | {o['error']} |")
    path = report_dir / "chaos-latest.md"
    path.write_text("\n".join(md) + "\n")
    return path
