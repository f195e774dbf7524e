"""The notifications part of a run's section in bench/RESULTS.md (called by hallq_bench.render)."""

from __future__ import annotations

from typing import Any

from hallq_bench import cpu_text, mark, pg_text
from notifications_stack import extra_cpu_text

TARGET_LATENCY_P99_MS = 1000.0
TARGET_THROUGHPUT = 500.0
MODES = {
    "inprocess": "in the web process (`serve --with-worker`)",
    "worker": "a `manage.py worker`",
}


def _kinds_text(kinds: dict[str, dict[str, int]]) -> str:
    parts = []
    for kind, t in kinds.items():
        if not t.get("due") and not t.get("accepted"):
            continue
        parts.append(
            f"{kind} {t.get('accepted', 0)}/{t.get('due', 0)} (missed {t.get('missed', 0)}, "
            f"twice {t.get('duplicates', 0)}, not due {t.get('not_due', 0)})"
        )
    return "; ".join(parts)


def _problems(v: dict[str, Any]) -> str:
    """What the checks found wrong, briefly ("" when nothing)."""
    found = [
        f"{kind} {what} {t[what]}"
        for kind, t in v["kinds"].items()
        for what in ("missed", "duplicates", "not_due")
        if t.get(what)
    ]
    if v["wrong_content"]:
        found.append(f"wrong number or counter {v['wrong_content']}")
    if v["pre_call_after_call"]:
        found.append(f"pre-call after the call {v['pre_call_after_call']}")
    unsent = {k: n for k, n in v["notification_states"].items() if k != "sent"}
    if unsent:
        found.append(f"not sent {unsent}")
    return ", ".join(found)


def _drained(seconds: float) -> str:
    if seconds < 0:
        return "the outbox was still not empty 60 s after the last call"
    return f"the outbox was empty {seconds:.1f} s after the last call"


def _split_text(lat: dict[str, float]) -> str:
    return (
        f"call sent → the start of the queue pushes' round that enqueued its message (its "
        f"created_at) p50 {lat['enqueue_p50_ms']:.0f} / p99 {lat['enqueue_p99_ms']:.0f} ms, → "
        f"the delivery's first try p50 {lat['to_delivery_p50_ms']:.0f} / p99 "
        f"{lat['to_delivery_p99_ms']:.0f} ms, → accepted by the stand-in p50 "
        f"{lat['deliver_p50_ms']:.0f} / p99 {lat['deliver_p99_ms']:.0f} ms"
    )


def _profile_lines(what: str, profile: dict[str, Any]) -> list[str]:
    """BENCH_NOTIFY_PROFILE's summary: per loop of the first worker, the busy share of its
    thread's time and where the busy time went (app frames, inclusive)."""
    lines = []
    for loop, p in profile.items():
        if not p["samples"]:
            continue
        frames = ", ".join(f"{name.split(' (')[0]} {share:g}%" for name, share in p["app"][:8])
        leaves = ", ".join(f"{name.split(' (')[0]} {share:g}%" for name, share in p["leaf"][:4])
        lines.append(
            f"- profile ({what}, first worker, py-spy --idle): {loop} busy {p['busy_pct']:g}% "
            f"of its thread's samples; of that: {frames}; leaves: {leaves}"
        )
    return lines


def summary_rows(n: dict[str, Any]) -> list[str]:
    rows = []
    for r in n.get("latency", []):
        lat = r["latency"]
        ok = lat["p99_ms"] <= TARGET_LATENCY_P99_MS and lat["missing"] == 0 and r["verify"]["ok"]
        rows.append(
            f"| Call-next → call message accepted by the WeChat stand-in, {lat['calls']} calls at "
            f"{r['rate']:g}/s over {r['counters']} counters, worker {MODES[r['mode']]} | "
            f"p50 {lat['p50_ms']:.0f} ms, p90 {lat['p90_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, "
            f"max {lat['max_ms']:.0f} ms; missed {lat['missing']}"
            + (f"; other messages: {_problems(r['verify'])}" if not r["verify"]["ok"] else "")
            + f" | p99 ≤ 1 s | {mark(ok)} |"
        )
    for r in n.get("throughput", []):
        v = r["verify"]
        rows.append(
            f"| Delivery throughput, {r['messages']:,} due messages to followers, "
            f"{r['workers']} worker(s) | {r['rate']:.0f} messages/s ({r['sent']:,} sent in "
            f"{r['seconds']:.1f} s); at the stand-in {v['standin_messages']:,} messages, "
            f"{v['distinct_dedup_keys']:,} distinct | ≥ 500/s, each once | "
            f"{mark(r['rate'] >= TARGET_THROUGHPUT and v['ok'])} |"
        )
    peak = n.get("peak")
    if peak:
        v = peak["verify"]
        lat = peak["latency"]
        rows.append(
            f"| Hall at peak: {peak['setup']['bound_in_db']:,} bound tickets, "
            f"{peak['counters']} counters calling for {peak['calling_s']:.0f} s ({peak['calls']} "
            f"calls), {peak['workers']} workers | {_kinds_text(v['kinds'])}; call → accepted p50 "
            f"{lat['p50_ms']:.0f} / p99 {lat['p99_ms']:.0f} ms | none missed, none twice | "
            f"{mark(v['ok'])} |"
        )
    return rows


def detail_lines(n: dict[str, Any]) -> list[str]:
    lines = ["", "Notifications (bench/hallq_notifications.py; checks after each run):", ""]
    for r in n.get("latency", []):
        lat, v, s = r["latency"], r["verify"], r["setup"]
        lines.append(
            f"- latency, worker {MODES[r['mode']]}: {s['bound_in_db']} tickets issued at the "
            f"kiosk and bound by scanning their QR code at the stand-in ({s['rate']:.0f}/s); "
            f"call-next round trip p50 {lat['call_rtt_p50_ms']:.0f} / p99 "
            f"{lat['call_rtt_p99_ms']:.0f} ms; {_split_text(lat)}; calls over 1 s "
            f"{lat['over_1s']}; {_drained(r['drained_after_s'])}; messages "
            f"{_kinds_text(v['kinds'])}; wrong number or counter "
            f"{v['wrong_content']}; pre-call after the call {v['pre_call_after_call']}; "
            f"notification states {v['notification_states']} → "
            f"**{'OK' if v['ok'] else 'FAILED'}**"
        )
    for r in n.get("throughput", []):
        v = r["verify"]
        lines.append(
            f"- throughput, {r['workers']} worker(s): {r['sent']:,} sent, {r['failed']} failed, "
            f"{r['left_due']} left due, {r['retried']} retried, {r['attempts']:,} attempts "
            f"recorded; timed from the first attempt's start to the last sent_at (the worker's "
            f"start-up excluded; all done {r['wall_s_from_worker_start']:.1f} s after it was "
            f"started); the stand-in accepted {v['standin_messages']:,} messages over "
            f"{v['standin_span_s']:.1f} s, {v['distinct_dedup_keys']:,} distinct client_msg_ids "
            f"= the outbox's ids: {v['keys_match_outbox']}; re-sends it dropped "
            f"{v['standin_duplicates_ignored']} → **{'OK' if v['ok'] else 'FAILED'}**"
        )
    peak = n.get("peak")
    if peak:
        v, lat, s = peak["verify"], peak["latency"], peak["setup"]
        pace = f"{peak['rate']:.1f} calls/s in all" if peak["rate"] else "back to back"
        lines.append(
            f"- peak: {s['bound_in_db']} tickets issued and bound by QR scan ({s['rate']:.0f}/s), "
            f"{v['tickets_called']} called ({pace}; every 10th recalled once), "
            f"{v['tickets_waiting_at_end']} still waiting at the end; counter answers "
            f"{peak['statuses']}; messages {_kinds_text(v['kinds'])}; pre-calls by people ahead "
            f"{v['pre_call_ahead']}; wrong number or counter {v['wrong_content']}; pre-call "
            f"after the call {v['pre_call_after_call']}; notifications {v['notification_states']}, "
            f"retried {v['notifications_retried']}, channels {v['channels']}; re-sends dropped "
            f"by the stand-in {v['standin_duplicates_ignored']}; "
            f"{_drained(peak['drained_after_s'])}; call → accepted p50 "
            f"{lat['p50_ms']:.0f} / p99 {lat['p99_ms']:.0f} / max {lat['max_ms']:.0f} ms "
            f"({_split_text(lat)}; call-next round trip p50 {lat['call_rtt_p50_ms']:.0f} / p99 "
            f"{lat['call_rtt_p99_ms']:.0f} ms) → **{'OK' if v['ok'] else 'FAILED'}**"
        )
    lines += ["", "Where the time went (notifications):", ""]
    for r in n.get("latency", []):
        lines.append(f"- latency {r['mode']}: {cpu_text(r['cpu'])}; {extra_cpu_text(r['cpu'])}")
    for r in n.get("throughput", []):
        lines.append(
            f"- throughput {r['workers']}w (from the workers' start, start-up included): "
            f"{extra_cpu_text(r['cpu'])}, postgres "
            f"{r['cpu']['postgres_pct']:.0f}%, other processes {r['cpu']['other_pct']:.0f}%; "
            f"{pg_text(r['pg'])}"
        )
    if peak:
        lines.append(
            f"- peak: {cpu_text(peak['cpu'])}; {extra_cpu_text(peak['cpu'])}; {pg_text(peak['pg'])}"
        )
    for r in n.get("throughput", []):
        lines += _profile_lines(f"throughput, {r['workers']} worker(s)", r.get("profile") or {})
    if peak:
        lines += _profile_lines("peak", peak.get("profile") or {})
    return lines
