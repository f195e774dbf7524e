"""The database's own ceiling for booking: pgbench running bench/pgbench/*.sql in a scratch
database created and dropped here (the issue's baseline, and hallq's place claim beside it)."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import psycopg
from booking_data import HOT_QUOTA, SPREAD_SLOTS, scalar
from hallq_bench import BENCH_DIR, DB, HOST, PG_URL, WORK, admin_sql, log

PGBENCH_DB = f"{DB}_pgbench"
PGBENCH_DIR = BENCH_DIR / "pgbench"
SECONDS = float(os.environ.get("BENCH_PGBENCH_SECONDS", "20"))
SPREAD_CLIENTS = 200
HOT_CLIENTS = 32
# Enough places that the claim never runs out within a run (~2,500-4,000 claims/s).
HOT_PLACES = int(os.environ.get("BENCH_PGBENCH_HOT_PLACES", "200000"))
UNLIMITED = 10**9

# name: (script, slots drawn from, clients wanted, quota of every slot, places of slot 1)
RUNS: dict[str, tuple[str, int, int, int, int]] = {
    "spread": ("quota_update.sql", SPREAD_SLOTS, SPREAD_CLIENTS, UNLIMITED, 0),
    "hot": ("quota_update.sql", 1, HOT_CLIENTS, UNLIMITED, 0),
    "claim_hot": ("place_claim.sql", 1, HOT_CLIENTS, HOT_PLACES, HOT_PLACES),
    "claim_full": ("place_claim.sql", 1, HOT_CLIENTS, HOT_QUOTA, HOT_QUOTA),
}
DESCRIPTIONS = {
    "spread": "conditional quota UPDATE + INSERT, random slot of 2,000",
    "hot": "conditional quota UPDATE + INSERT, one hot slot",
    "claim_hot": "hallq's place claim (SKIP LOCKED) + INSERT + UPDATE, one hot slot with places "
    "to spare",
    "claim_full": f"hallq's place claim, one hot slot of {HOT_QUOTA} places (then full)",
}


def clients_allowed(wanted: int) -> int:
    """``wanted``, or what PostgreSQL's max_connections leaves free with room for others."""
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        limit = int(scalar(conn, "SHOW max_connections"))
        used = scalar(conn, "SELECT count(*) FROM pg_stat_activity")
    return max(1, min(wanted, limit - used - 10))


def reset(conn: psycopg.Connection, quota: int, hot_places: int) -> None:
    conn.execute("TRUNCATE bench_place, bench_appointment RESTART IDENTITY")
    conn.execute("UPDATE bench_slot SET booked = 0, quota = %s", (quota,))
    if hot_places:
        conn.execute(
            "INSERT INTO bench_place (slot_id, number) SELECT 1, g FROM generate_series(1, %s) g",
            (hot_places,),
        )
    for table in ("bench_slot", "bench_place", "bench_appointment"):
        conn.execute(f"VACUUM ANALYZE {table}")


def run_one(name: str, script: str, slots: int, clients: int) -> dict[str, Any]:
    command = ["pgbench", "-h", HOST, "-U", "postgres", "-n", "-M", "prepared"]
    command += ["-f", str(PGBENCH_DIR / script), "-D", f"slot_count={slots}"]
    command += ["-c", str(clients), "-j", "2" if clients > 1 else "1", "-T", str(int(SECONDS))]
    res = subprocess.run(
        [*command, PGBENCH_DB], capture_output=True, text=True, timeout=SECONDS + 120
    )
    (WORK / f"pgbench-booking-{name}.txt").write_text(res.stdout + res.stderr)
    tps = re.search(r"tps = ([\d.]+)", res.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", res.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", res.stdout)
    if tps is None:
        raise RuntimeError(f"pgbench {name} printed no tps: {res.stderr[-500:]}")
    with psycopg.connect(f"{PG_URL}/{PGBENCH_DB}", autocommit=True) as conn:
        booked = scalar(conn, "SELECT count(*) FROM bench_appointment")
        over = scalar(conn, "SELECT count(*) FROM bench_slot WHERE booked > quota")
        places = scalar(conn, "SELECT count(*) FROM bench_place WHERE appointment_id IS NOT NULL")
    return {
        "clients": clients,
        "slots": slots,
        "tps": float(tps.group(1)),
        "latency_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else None,
        "booked": booked,
        "over_quota": over,
        "places_taken": places,
    }


def phase_pgbench() -> dict[str, Any]:
    admin_sql(f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{PGBENCH_DB}"')
    out: dict[str, Any] = {}
    try:
        with psycopg.connect(f"{PG_URL}/{PGBENCH_DB}", autocommit=True) as conn:
            conn.execute((PGBENCH_DIR / "schema.sql").read_text())
            for name, (script, slots, wanted, quota, places) in RUNS.items():
                reset(conn, quota, places)
                result = run_one(name, script, slots, clients_allowed(wanted))
                out[name] = {**result, "wanted_clients": wanted}
                log(
                    f"RESULT booking_pgbench {name} "
                    + " ".join(f"{k}={v}" for k, v in out[name].items())
                )
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
    return out
