"""The booking benchmarks' settings and data: the template database with citizens, and the
slots each run inserts straight into the tables (setup, not what is measured)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from hallq_bench import (
    APP_DIR,
    BENCH_DIR,
    DB,
    PG_URL,
    PYTHON,
    TEMPLATE_DB,
    WORK,
    admin_sql,
    app_env,
    db,
    log,
)

BOOKING_TEMPLATE = f"{TEMPLATE_DB}_booking"
TOKENS_FILE = WORK / "booking-tokens.txt"
SLOT_GROUPS_FILE = WORK / "booking-slots.txt"

CITIZENS = int(os.environ.get("BENCH_BOOKING_CITIZENS", "20000"))
PROCESS_COUNTS = [int(x) for x in os.environ.get("BENCH_BOOKING_PROCESSES", "1,2").split(",")]
PARTS = os.environ.get(
    "BENCH_BOOKING_PARTS", "pgbench,spread,hot,availability,statements,instructions,profile"
).split(",")
SPREAD_SLOTS = 2000
SPREAD_DAYS = 7
SPREAD_QUOTA = int(os.environ.get("BENCH_BOOKING_SPREAD_QUOTA", "100"))
HOT_QUOTA = 50
HOT_WARMUP_ATTEMPTS = 300
AVAILABILITY_HALL = 1

# The citizens' limits are not what is measured (every request is another citizen anyway), and
# no SMS leaves the machine.
SERVER_ENV = {
    "HALLQ_MAX_ACTIVE_APPOINTMENTS": "1000000",
    "HALLQ_SMS_BACKEND": "hallq.common.sms.LocMemBackend",
}

# Every service bookable from today to 14 days ahead, released at 00:00: a run at any hour finds
# tomorrow open, and still finds it open if it crosses midnight.
OPEN_RULES = """
INSERT INTO scheduling_bookingrules (service_id, min_days_ahead, max_days_ahead, release_time,
    cancel_cutoff_minutes, check_in_before_minutes, check_in_after_minutes, reminder_minutes)
SELECT id, 0, 14, '00:00', 0, 60, 15, 60 FROM halls_service
ON CONFLICT (service_id) DO UPDATE
   SET min_days_ahead = 0, max_days_ahead = 14, release_time = '00:00'
"""

# A hall in service has a history: the last HISTORY_DAYS days' slots (every service, 08:00-17:00
# every half hour, quota 6) and about HISTORY_PER_CITIZEN past appointments per citizen, served
# (their places kept) or cancelled (given back). Without it every table a booking reads starts
# empty, and PostgreSQL plans a prepared statement on the first request, for tables of no rows:
# sequential scans, kept by the connection while those tables grow through the run (a booking's
# limits read took 0.7 ms, scanning every appointment booked so far). Analysed with the rest.
HISTORY_DAYS = int(os.environ.get("BENCH_BOOKING_HISTORY_DAYS", "30"))
HISTORY_PER_CITIZEN = 2
HISTORY = """
INSERT INTO booking_slot (hall_id, service_id, date, starts_at, ends_at, quota, is_open)
SELECT s.hall_id, s.id, d::date,
       (d::date + time '08:00' + n * interval '30 minutes') AT TIME ZONE h.time_zone,
       (d::date + time '08:30' + n * interval '30 minutes') AT TIME ZONE h.time_zone, 6, true
FROM halls_service s JOIN halls_hall h ON h.id = s.hall_id,
     generate_series(current_date - %(days)s, current_date - 1, interval '1 day') AS d,
     generate_series(0, 17) AS n;
INSERT INTO booking_slotplace (slot_id, number)
SELECT s.id, g FROM booking_slot s, generate_series(1, s.quota) AS g WHERE s.date < current_date;
WITH place AS (
    SELECT p.id, s.id AS slot, s.hall_id, s.service_id, s.date, s.starts_at, s.ends_at,
           row_number() OVER (ORDER BY p.id) AS r
    FROM booking_slotplace p JOIN booking_slot s ON s.id = p.slot_id
    WHERE s.date < current_date
), citizen AS (
    SELECT id, row_number() OVER (ORDER BY id) AS r, count(*) OVER () AS n FROM citizens_citizen
)
INSERT INTO booking_appointment (citizen_id, hall_id, service_id, slot_id, date, starts_at,
    ends_at, state, channel, booking_code, created_at, cancelled_at, checked_in_at)
SELECT c.id, p.hall_id, p.service_id, p.slot, p.date, p.starts_at, p.ends_at,
       CASE WHEN p.r %% 10 = 0 THEN 'cancelled' ELSE 'done' END, 'web', 'H' || p.id,
       p.starts_at - interval '2 days',
       CASE WHEN p.r %% 10 = 0 THEN p.starts_at - interval '1 day' END,
       CASE WHEN p.r %% 10 <> 0 THEN p.starts_at END
FROM place p JOIN citizen c ON c.r = (p.r - 1) %% c.n + 1
WHERE p.r <= c.n * %(per_citizen)s;
UPDATE booking_slotplace p SET appointment_id = a.id FROM booking_appointment a
WHERE a.booking_code = 'H' || p.id AND a.state <> 'cancelled';
"""

SlotRow = tuple[int, int, dt.date, dt.datetime, dt.datetime, int]


def scalar(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row[0]


def make_booking_template() -> None:
    """The demo template plus CITIZENS registered citizens with tokens (TOKENS_FILE) and the
    open booking rules."""
    admin_sql(f'DROP DATABASE IF EXISTS "{BOOKING_TEMPLATE}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{BOOKING_TEMPLATE}" TEMPLATE "{TEMPLATE_DB}"')
    with psycopg.connect(f"{PG_URL}/{BOOKING_TEMPLATE}", autocommit=True) as conn:
        conn.execute(OPEN_RULES)
        conn.execute("UPDATE halls_service SET bookable = true, active = true")
    started = time.monotonic()
    script = str(BENCH_DIR / "booking_setup.py")
    subprocess.run(
        [PYTHON, script, "--citizens", str(CITIZENS), "--tokens", str(TOKENS_FILE)],
        cwd=APP_DIR,
        env=app_env(BOOKING_TEMPLATE, redis=False),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    with psycopg.connect(f"{PG_URL}/{BOOKING_TEMPLATE}", autocommit=True) as conn:
        with conn.transaction():
            for statement in HISTORY.split(";\n"):
                if statement.strip():
                    conn.execute(
                        statement, {"days": HISTORY_DAYS, "per_citizen": HISTORY_PER_CITIZEN}
                    )
        history = scalar(conn, "SELECT count(*) FROM booking_appointment")
        conn.execute("VACUUM ANALYZE")
    log(
        f"booking template {BOOKING_TEMPLATE}: {CITIZENS} citizens with tokens and {history} "
        f"past appointments in {time.monotonic() - started:.1f} s"
    )


def drop_booking_template() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{BOOKING_TEMPLATE}" WITH (FORCE)')


def fresh_booking_db() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}" TEMPLATE "{BOOKING_TEMPLATE}"')


def tokens() -> list[str]:
    return TOKENS_FILE.read_text().split()


def halls_today(conn: psycopg.Connection) -> dict[int, tuple[ZoneInfo, dt.date]]:
    now = dt.datetime.now(dt.UTC)
    return {
        hall: (ZoneInfo(zone), now.astimezone(ZoneInfo(zone)).date())
        for hall, zone in conn.execute("SELECT id, time_zone FROM halls_hall")
    }


def insert_slots(conn: psycopg.Connection, rows: list[SlotRow]) -> list[int]:
    """Slots (hall, service, date, starts_at, ends_at, quota) with their places; their ids."""
    ids = [
        scalar(
            conn,
            "INSERT INTO booking_slot (hall_id, service_id, date, starts_at, ends_at, quota, "
            "is_open) VALUES (%s, %s, %s, %s, %s, %s, true) RETURNING id",
            row,
        )
        for row in rows
    ]
    conn.execute(
        "INSERT INTO booking_slotplace (slot_id, number) SELECT s.id, g FROM booking_slot s, "
        "generate_series(1, s.quota) AS g WHERE s.id = ANY(%s)",
        (ids,),
    )
    return ids


def add_spread_slots() -> Path:
    """SPREAD_SLOTS slots of 20 minutes over every service and the next SPREAD_DAYS days, each
    of quota SPREAD_QUOTA. Writes SLOT_GROUPS_FILE: one line per (service, date) -- the unit of
    a citizen's one-a-day limit -- with its slot ids, for bench/booking.lua."""
    with db() as conn:
        days = halls_today(conn)
        services = conn.execute("SELECT id, hall_id FROM halls_service ORDER BY id").fetchall()
        groups = [(s, h, ahead) for s, h in services for ahead in range(1, SPREAD_DAYS + 1)]
        rows: list[SlotRow] = []
        for i in range(SPREAD_SLOTS):
            service, hall, ahead = groups[i % len(groups)]
            zone, today = days[hall]
            date = today + dt.timedelta(days=ahead)
            starts = dt.datetime.combine(date, dt.time(8, 0), tzinfo=zone) + dt.timedelta(
                minutes=20 * (i // len(groups))
            )
            ends = starts + dt.timedelta(minutes=20)
            rows.append((hall, service, date, starts, ends, SPREAD_QUOTA))
        with conn.transaction():
            ids = insert_slots(conn, rows)
        conn.execute("ANALYZE booking_slot")
        conn.execute("ANALYZE booking_slotplace")
    members = [ids[g :: len(groups)] for g in range(len(groups))]
    SLOT_GROUPS_FILE.write_text("\n".join(",".join(map(str, m)) for m in members) + "\n")
    return SLOT_GROUPS_FILE


def add_hot_slots() -> tuple[int, int]:
    """The hot slot (hall AVAILABILITY_HALL's first service, 09:00 tomorrow, quota HOT_QUOTA)
    and a warm-up slot of another service with room for everyone who warms up."""
    with db() as conn:
        days = halls_today(conn)
        first, second = conn.execute(
            "SELECT id FROM halls_service WHERE hall_id = %s ORDER BY id LIMIT 2",
            (AVAILABILITY_HALL,),
        ).fetchall()
        zone, today = days[AVAILABILITY_HALL]
        tomorrow = today + dt.timedelta(days=1)
        nine = dt.datetime.combine(tomorrow, dt.time(9, 0), tzinfo=zone)
        half_past = nine + dt.timedelta(minutes=30)
        with conn.transaction():
            hot, warm = insert_slots(
                conn,
                [
                    (AVAILABILITY_HALL, first[0], tomorrow, nine, half_past, HOT_QUOTA),
                    (
                        AVAILABILITY_HALL,
                        second[0],
                        tomorrow,
                        nine,
                        half_past,
                        2 * HOT_WARMUP_ATTEMPTS,
                    ),
                ],
            )
        conn.execute("ANALYZE booking_slot")
        conn.execute("ANALYZE booking_slotplace")
    return hot, warm
