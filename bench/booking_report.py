"""The booking part of a run's section in bench/RESULTS.md (called by hallq_bench.render)."""

from __future__ import annotations

from typing import Any

from booking_data import AVAILABILITY_HALL
from booking_pgbench import DESCRIPTIONS
from hallq_bench import cpu_text, mark, pg_text


def summary_rows(b: dict[str, Any]) -> list[str]:
    """Rows of the results table."""
    rows = []
    spread_clients = (b.get("pgbench") or {}).get("spread", {}).get("clients", "?")
    for r in b.get("spread", []):
        rows.append(
            f"| Booking, spread: {r['slots']:,} slots, {r['connections']} connections, "
            f"{r['processes']} process(es) | {r['rate']:.0f} bookings/s = "
            f"{r['ratio'] or 0:.2f} × pgbench ({r['pgbench_tps'] or 0:.0f} tps at "
            f"{spread_clients} clients), p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms | "
            f"≥ 0.5 × pgbench, p99 < 100 ms | {mark(r['met'])} |"
        )
    for r in b.get("hot", []):
        rows.append(
            f"| Booking, hot slot at release: quota {r['quota']}, {r['attempts']:,} citizens at "
            f"once over {r['connections']} connections, {r['processes']} process(es) | "
            f"{r['rate']:.0f} answers/s (pgbench hot row {r['pgbench_hot_tps'] or 0:.0f} tps); "
            f"booked {r['booked_in_db']}, overbooked {r['overbooked']}; winners p50 "
            f"{r['winner_p50_ms']:.0f} / p99 {r['winner_p99_ms']:.0f} ms; losers told full p50 "
            f"{r['loser_p50_ms']:.0f} / p99 {r['loser_p99_ms']:.0f} ms | 0 overbooked, losers "
            f"p99 < 200 ms, ≥ pgbench hot row | {mark(r['met'])} |"
        )
    for r in b.get("availability", []):
        rows.append(
            f"| Availability, hall {AVAILABILITY_HALL}: {r['services']} services × 7 days "
            f"({r['slots']} slots), {r['connections']} connections, {r['processes']} "
            f"process(es) | {r['rate']:.0f}/s, p50 {r['p50_ms']:.0f} ms, p99 "
            f"{r['p99_ms']:.0f} ms | p99 < 50 ms | {mark(r['met'])} |"
        )
    return rows


def pgbench_lines(pg: dict[str, Any]) -> list[str]:
    lines = []
    for name, text in DESCRIPTIONS.items():
        r = pg.get(name)
        if not r:
            continue
        clients = f"{r['clients']} clients"
        if r["clients"] < r["wanted_clients"]:
            clients += f" (max_connections leaves no room for {r['wanted_clients']})"
        lines.append(
            f"- pgbench -M prepared, {text}, {clients}: {r['tps']:.0f} tps, "
            f"{r['latency_ms'] or 0:.1f} ms average; {r['booked']} booked, slots over quota "
            f"{r['over_quota']}, failed transactions {r['failed']}"
        )
    return lines


def check_lines(b: dict[str, Any]) -> list[str]:
    lines = []
    for r in b.get("spread", []):
        v = r["verify"]
        lines.append(
            f"- spread {r['processes']}p: {v['appointments']} appointments in the DB = "
            f"{v['responses_201']} 201 responses (2 s warm-up included; ids not in the DB "
            f"{v['ids_not_in_db']}) + {v['in_flight_at_stop']} in flight at wrk's stop; "
            f"overbooked slots {v['overbooked_slots']}; places above quota "
            f"{v['places_over_quota']}; appointments without their place "
            f"{v['appointments_without_place']}; non-201 {r['other_statuses'] or 'none'}; "
            f"socket errors {r['socket_errors']}; the warm-up's last requests took "
            f"{r['warmup_drained_s']:.1f} s to drain → **{'OK' if v['ok'] else 'FAILED'}**"
        )
    for r in b.get("hot", []):
        lines.append(
            f"- hot {r['processes']}p: {r['attempts']} attempts in {r['seconds']:.2f} s; "
            f"{r['winners']} × 201, {r['losers_full']} × 409 slot_full, others "
            f"{r['other_answers'] or 'none'}; the DB holds {r['booked_in_db']} appointments and "
            f"{r['places_taken']} taken places for the slot; the last winner was answered "
            f"{r['last_winner_after_ms']:.0f} ms after the first request left; all answers p50 "
            f"{r['all_p50_ms']:.0f} / p99 {r['all_p99_ms']:.0f} ms, slowest loser "
            f"{r['loser_max_ms']:.0f} ms{tail_of_hot(r)} → "
            f"**{'OK' if r['verify_ok'] else 'FAILED'}**"
        )
    for r in b.get("availability", []):
        lines.append(
            f"- availability {r['processes']}p: non-200 {r['non_200']}, socket errors "
            f"{r['socket_errors']}, max {r['max_ms']:.0f} ms; the warm-up's last requests took "
            f"{r['warmup_drained_s']:.1f} s to drain"
        )
    return lines


def detail_lines(b: dict[str, Any]) -> list[str]:
    """Baselines, checks, CPU, statements and profile of the booking runs."""
    lines = [
        "",
        "Booking (bench/hallq_booking.py). Load: wrk with 2 threads for the 200 spread "
        "connections, every request another registered citizen (bench/booking.lua); the hot "
        "slot by an asyncio client (uvloop) that opens every connection first, then sends "
        "all attempts as fast as the answers come, timing each. Baselines: pgbench on bare "
        "tables (bench/pgbench/) in a scratch database, in the same run:",
        "",
        *pgbench_lines(b.get("pgbench") or {}),
        "",
        "Checks (SQL after each run):",
        "",
        *check_lines(b),
        "",
        "Where the time went (booking):",
        "",
    ]
    for group in ("spread", "hot", "availability"):
        for r in b.get(group, []):
            lines.append(f"- {group} {r['processes']}p: {cpu_text(r['cpu'])}; {pg_text(r['pg'])}")
    statements = b.get("statements")
    if statements:
        repeated = "; ".join(f"`{sql}…` ×{n}" for sql, n in statements["availability_repeated"])
        lines += [
            "",
            f"SQL statements per request (in process; BEGIN, SAVEPOINT and COMMIT included): "
            f'a booking {statements["book"]}, an answer "full" {statements["full"]}, hall '
            f"{AVAILABILITY_HALL}'s week of availability {statements['availability']} "
            f"({statements['availability_bytes']:,} bytes; most repeated: {repeated}).",
        ]
    counted = b.get("instructions")
    if counted:
        lines += [
            "",
            "Instructions per request in process (callgrind, bench/instructions.py; the memos "
            "kept as at full load, machine speed left out): a booking "
            f'{counted["book"] / 1e6:.2f} M, an answer "full" '
            f"{counted['full'] / 1e6:.2f} M ({counted['count']} each, every one another citizen).",
        ]
    for key, load, unit in (
        ("profile", "the spread booking load", "bookings"),
        ("profile_hot", 'a hot slot\'s losers (every answer "full")', "answers"),
    ):
        profile = b.get(key)
        if profile:
            lines += [
                "",
                f"Profile under {load} (py-spy --gil, i.e. Python CPU only; 1 process; "
                f"{profile['samples']} samples; {profile['rate_while_profiled']:.0f} {unit}/s "
                "while profiled). App frames, inclusive:",
                "",
                *[f"- {n}% {f}" for f, n in profile["app_inclusive"][:14]],
                "",
                "Hottest leaf frames:",
                "",
                *[f"- {n}% {f}" for f, n in profile["own"][:8]],
            ]
    return lines


def tail_of_hot(r: dict[str, Any]) -> str:
    """Where the hot slot's tail came from (runs recorded before these figures have none)."""
    if "first_wave_max_ms" not in r:
        return ""
    return (
        f"; the first wave (each connection's first request, all at once) p50 "
        f"{r['first_wave_p50_ms']:.0f} / max {r['first_wave_max_ms']:.0f} ms; after it losers "
        f"p99 {r['after_first_wave_loser_p99_ms']:.0f} ms, a loser's wait over the median of "
        f"those sent within 100 ms of it p99 {r['loser_to_neighbours_p99']:.2f}×"
    )
