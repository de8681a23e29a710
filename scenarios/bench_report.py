"""Writing ``bench/results/latest.json``, ``latest.md`` and the PNG charts from one bench run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


def write(results: dict[str, Any], out: Path = RESULTS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    charts = write_charts(results, out)
    results["charts"] = charts
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "latest.md").write_text(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    brokers = list(results.get("brokers", {}))
    lines = [f"# Benchmark — {results['when']}", "",
             f"Machine: {results['machine']}. Fleet: {results['fleet']}.",
             f"Parts run: {', '.join(results.get('parts', []))}; brokers: {', '.join(brokers)}; "
             f"wall time {results.get('wall_s')} s.", "",
             *([f"Merged from {len(results['runs'])} runs (each figure's own run is in latest.json, `measured`):", "",
                *[f"- {run}" for run in results["runs"]], ""] if results.get("runs") else []),
             "Providers are the sandbox fakes (real HTTP). Each figure: measured value per broker, its target, "
             "whether it is met (and by how much it is missed), how it was measured. Figures are measurements on a "
             "shared 2-core machine, not assertions.", ""]
    names: list[str] = []
    for broker in brokers:
        for fig in results["brokers"][broker].get("figures", []):
            if fig["name"] not in names:
                names.append(fig["name"])
    head = "| figure | target | " + " | ".join(brokers) + " |"
    lines += ["## Figures", "", head, "|" + " --- |" * (2 + len(brokers))]
    hows: dict[str, str] = {}
    whys: list[str] = []
    for name in names:
        cells, target = [], ""
        for broker in brokers:
            fig = next((f for f in results["brokers"][broker].get("figures", []) if f["name"] == name), None)
            if fig is None:
                cells.append("—")
                continue
            hows.setdefault(name, fig["how"])
            target = "—" if fig["target"] is None else f"{fig['op']} {fig['target']} {fig['unit']}".strip()
            mark = {True: "✅", False: f"❌ (by {fig['miss_by']})", None: ""}[fig["met"]]
            cells.append(f"{fig['value']} {fig['unit']} {mark}".strip())
            if fig["met"] is False or fig.get("why"):
                whys.append(f"- **{name}** ({broker}): {fig.get('why') or 'no cause measured'}")
        lines.append(f"| {name} | {target} | " + " | ".join(cells) + " |")
    if whys:
        lines += ["", "## Where a target is missed, or a value needs a word", "", *whys]
    lines += ["", "## How each figure was measured", ""]
    lines += [f"- **{name}**: {how}" for name, how in hows.items()]
    for broker in brokers:
        extra = {f["name"]: f["extra"] for f in results["brokers"][broker].get("figures", []) if f.get("extra")}
        if extra:
            lines += ["", f"## Details ({broker})", ""]
            lines += [f"- {name}: `{json.dumps(value, ensure_ascii=False)}`" for name, value in extra.items()]
        errors = results["brokers"][broker].get("errors")
        if errors:
            lines += ["", f"Parts that failed on {broker}:", *[f"- {e}" for e in errors]]
    if results.get("charts"):
        lines += ["", "## Charts", ""]
        lines += [f"![{name}]({name})" for name in results["charts"]]
    return "\n".join(lines) + "\n"


def write_charts(results: dict[str, Any], out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    brokers = results.get("brokers", {})
    series = {b: d["data"].get("budget_task_times_s") for b, d in brokers.items() if d.get("data", {}).get(
        "budget_task_times_s")}
    if series:
        fig, ax = plt.subplots(figsize=(9, 4))
        limit = window = None
        for broker, times in series.items():
            data = brokers[broker]["data"]
            limit, window = data["limit"], data["window_s"]
            span = int(max(times)) + 1
            per_second = [sum(1 for t in times if s <= t < s + 1) for s in range(span)]
            rolling = [sum(1 for t in times if s - window < t <= s) / window for s in range(span)]
            ax.bar([s + (0.4 if broker == "rabbitmq" else 0) for s in range(span)], per_second, width=0.4,
                   alpha=0.5, label=f"{broker}: tasks accepted in each second")
            ax.plot(range(span), rolling, label=f"{broker}: mean per second over the last {window:.0f} s")
        if limit and window:
            ax.axhline(limit / window, color="red", linestyle="--", label=f"Kie limit ({limit} / {window:.0f} s)")
        ax.set_xlabel("seconds since the first task")
        ax.set_ylabel("tasks per second")
        ax.set_title("40 Premium orders at once: tasks accepted by Kie vs its limit")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "kie_tasks_per_s.png", dpi=90)
        plt.close(fig)
        written.append("kie_tasks_per_s.png")
    parts = (("people_completions", "100 people at once", "-"), ("completions", "a Premium order alone", ":"))
    curves = [(broker, label, style, items) for key, label, style in parts for broker, d in brokers.items()
              if (items := d.get("data", {}).get(key))]
    if curves:
        fig, ax = plt.subplots(figsize=(9, 4))
        for broker, label, style, items in curves:
            values = sorted(c["paid_to_album_s"] for c in items)
            ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], marker=".", linestyle=style,
                    label=f"{broker}: {label} ({len(values)} job{'s' if len(values) > 1 else ''})")
        ax.set_xlabel("paid → last album sent, s")
        ax.set_ylabel("share of jobs finished")
        ax.set_title("Job completion times: every order the bench waited for")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "job_completion_s.png", dpi=90)
        plt.close(fig)
        written.append("job_completion_s.png")
    return written
