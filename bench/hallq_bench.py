# ruff: noqa: E501, S108, S310
"""hallq benchmark driver (run by bench/run.sh with the project's venv Python).

Phases, each on a fresh copy of a template database (migrate + load_demo once):

  issue     POST /halls/{id}/tickets at 50 connections (wrk + bench/issue.lua), 1/2/3 processes
  calls     call-next/start loops over every counter (wrk + bench/callnext.lua), 1/2/3 processes
  latency   1,000 SSE subscribers on one hall; a caller makes call-next requests at a steady rate
  capacity  1k/2k/5k/10k SSE subscribers on ONE process: RSS, threads, one event's latency
  profile   py-spy (--gil: only samples holding the GIL = Python CPU) under issue and call load
  pgbench   the SQL of one ticket issue, straight to PostgreSQL: the database's own ceiling
  booking   appointments: pgbench baselines, spread and hot-slot booking, availability
            (bench/hallq_booking.py; `bash bench/booking.sh` runs only this)
  notifications  call → WeChat message latency, delivery throughput of 1 and 2 workers, a hall
            at peak with no message missed or sent twice, against hallq's WeChat stand-in
            (bench/hallq_notifications.py; `bash bench/notifications.sh` runs only this)

Every load is bounded in count and time, and goes to 127.0.0.1 only. Raw data lands in
BENCH_WORK (default /tmp/hallq-bench); the summary is appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

BENCH_DIR = Path(__file__).resolve().parent
APP_DIR = Path(os.environ.get("BENCH_APP_DIR", BENCH_DIR.parent)).resolve()
# run.sh benchmarks a copy of the work tree taken when it starts (BENCH_SNAPSHOT_OF = the tree),
# so that edits made meanwhile cannot change the code halfway through a run.
SNAPSHOT = os.environ.get("BENCH_SNAPSHOT_OF", "")
GIT_DIR = Path(SNAPSHOT or APP_DIR).resolve()
PYTHON = os.environ.get("BENCH_PYTHON", str(APP_DIR / ".venv" / "bin" / "python"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
TEMPLATE_DB = os.environ.get("BENCH_TEMPLATE_DB", "hallq_bench_tpl")
DB = os.environ.get("BENCH_DB", "hallq_bench")
HOST = "127.0.0.1"
PORT = int(os.environ.get("BENCH_PORT", "18200"))
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/hallq-bench"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
PY_SPY = os.environ.get("BENCH_PY_SPY", "py-spy")
# Experiments only: serve the app with another command, e.g. gunicorn (WSGI) instead of
# `manage.py serve` (uvicorn/ASGI); {host} {port} {processes} {python} are filled in.
SERVE_CMD = os.environ.get("BENCH_SERVE_CMD", "")
CLK_TCK = os.sysconf("SC_CLK_TCK")

ISSUE_CONNECTIONS = 50
ISSUE_SECONDS = float(os.environ.get("BENCH_ISSUE_SECONDS", "15"))
CALL_SECONDS = float(os.environ.get("BENCH_CALL_SECONDS", "10"))
CALL_BACKLOG_PER_SERVICE = int(os.environ.get("BENCH_CALL_BACKLOG", "1000"))
LATENCY_SUBSCRIBERS = int(os.environ.get("BENCH_LATENCY_SUBSCRIBERS", "1000"))
LATENCY_CALLS = int(os.environ.get("BENCH_LATENCY_CALLS", "200"))
LATENCY_RATE = float(os.environ.get("BENCH_LATENCY_RATE", "5"))
CAPACITY_STEPS = [
    int(x) for x in os.environ.get("BENCH_CAPACITY_STEPS", "1000,2000,5000,10000").split(",")
]
PROFILE_SECONDS = float(os.environ.get("BENCH_PROFILE_SECONDS", "10"))
PROCESS_COUNTS = [int(x) for x in os.environ.get("BENCH_PROCESSES", "1,2,3").split(",")]

TARGETS = {
    "issue_rate": 700.0,
    "issue_p99_ms": 100.0,
    "calls_rate": 500.0,
    "latency_p99_ms": 100.0,
    "capacity": 10000,
}


def log(*parts: Any) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *parts, flush=True)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


# --- database ----------------------------------------------------------------------------------


def admin_sql(sql: str) -> None:
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def db_url(name: str = DB) -> str:
    return f"{PG_URL}/{name}"


def db() -> psycopg.Connection:
    return psycopg.connect(db_url(), autocommit=True)


def app_env(database: str = DB, redis: bool = True, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("REDIS_URL", "HALLQ_WEB_PROCESSES", "HALLQ_INPROCESS_WORKER"):
        env.pop(key, None)
    env.update(
        DATABASE_URL=db_url(database),
        HALLQ_VAR_DIR=str(WORK / "var"),
        # settings.py hands this straight to logging: it must be upper case ("warning" fails).
        HALLQ_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    if redis:
        env["REDIS_URL"] = REDIS_URL
    env.update(extra)
    return env


def make_template() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{TEMPLATE_DB}"')
    (WORK / "var").mkdir(parents=True, exist_ok=True)
    (WORK / "var" / "demo-credentials.json").unlink(missing_ok=True)
    env = app_env(TEMPLATE_DB, redis=False)
    for cmd in (["migrate", "-v0"], ["load_demo"]):
        subprocess.run(
            [PYTHON, "manage.py", *cmd],
            cwd=APP_DIR,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=180,
        )


def fresh_db() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DB}" TEMPLATE "{TEMPLATE_DB}"')


@dataclass
class Demo:
    credentials: dict[str, Any]
    services: dict[int, list[tuple[int, str]]]  # hall -> [(service id, prefix)]
    counters: dict[int, list[int]]  # hall -> counter ids

    @classmethod
    def load(cls) -> Demo:
        credentials = json.loads((WORK / "var" / "demo-credentials.json").read_text())
        services: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
        counters: dict[int, list[int]] = collections.defaultdict(list)
        with psycopg.connect(db_url(TEMPLATE_DB)) as conn:
            for sid, hall, prefix in conn.execute(
                "SELECT id, hall_id, prefix FROM halls_service WHERE active ORDER BY hall_id, id"
            ):
                services[hall].append((sid, prefix))
            for cid, hall in conn.execute(
                "SELECT id, hall_id FROM halls_counter ORDER BY hall_id, number"
            ):
                counters[hall].append(cid)
        return cls(credentials, dict(services), dict(counters))

    def hall(self, hall_id: int) -> dict[str, Any]:
        return next(h for h in self.credentials["halls"] if h["id"] == hall_id)


def preissue(demo: Demo, per_service: int, halls: list[int] | None = None) -> int:
    """Waiting tickets straight into the tables (as ticket_issue leaves them, minus the event)."""
    total = 0
    with db() as conn:
        for hall_id, services in demo.services.items():
            if halls is not None and hall_id not in halls:
                continue
            for sid, prefix in services:
                conn.execute(
                    """
                    WITH day AS (SELECT (now() AT TIME ZONE h.time_zone)::date AS d
                                 FROM halls_hall h WHERE h.id = %(hall)s)
                    INSERT INTO queueing_ticket (hall_id, service_id, service_date, sequence, number,
                        kind, channel, state, issued_at, queue_time, recall_count,
                        people_ahead_at_issue)
                    SELECT %(hall)s, %(sid)s, day.d, g, %(prefix)s || lpad(g::text, 3, '0'),
                        'walk_in', 'kiosk', 'waiting',
                        now() - interval '1 hour' + g * interval '1 millisecond',
                        now() - interval '1 hour' + g * interval '1 millisecond', 0, g - 1
                    FROM day, generate_series(1, %(n)s) AS g
                    """,
                    {"hall": hall_id, "sid": sid, "prefix": prefix, "n": per_service},
                )
                conn.execute(
                    """
                    INSERT INTO queueing_ticketsequence (hall_id, service_id, service_date, last_number)
                    SELECT %(hall)s, %(sid)s, (now() AT TIME ZONE h.time_zone)::date, %(n)s
                    FROM halls_hall h WHERE h.id = %(hall)s
                    ON CONFLICT (service_id, service_date) DO UPDATE SET last_number = EXCLUDED.last_number
                    """,
                    {"hall": hall_id, "sid": sid, "n": per_service},
                )
                total += per_service
        conn.execute("ANALYZE queueing_ticket")
    return total


# --- processes and CPU accounting ---------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return out


def tree(pid: int) -> list[int]:
    result, todo = [], [pid]
    while todo:
        p = todo.pop()
        result.append(p)
        todo.extend(children_of(p))
    return result


def proc_cpu(pid: int, kernel_only: bool = False) -> float:
    """utime+stime (or only stime) of a process in seconds, 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    if kernel_only:
        return int(fields[12]) / CLK_TCK
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def procs_matching(pred: Any) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if pred(comm, cmd):
            pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU used during a window, in % of one core: server, load generator, PostgreSQL, rest."""

    def __init__(self, server: Server | None, redis_pid: int | None = None) -> None:
        self.server = server
        self.redis_pid = redis_pid

    def _sample(self) -> dict[str, float]:
        pids = self.server.pids() if self.server else []
        server = sum(proc_cpu(p) for p in pids)
        server_sys = sum(proc_cpu(p, kernel_only=True) for p in pids)
        pg_bench = sum(
            proc_cpu(p) for p in procs_matching(lambda c, cmd: c == "postgres" and f" {DB} " in cmd)
        )
        pg_all = sum(proc_cpu(p) for p in procs_matching(lambda c, cmd: c == "postgres"))
        redis = proc_cpu(self.redis_pid) if self.redis_pid else 0.0
        busy, total = machine_busy()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "server": server,
            "server_sys": server_sys,
            "pg_bench": pg_bench,
            "pg_all": pg_all,
            "redis": redis,
            "busy": busy,
            "total": total,
            "children": children.ru_utime + children.ru_stime,
            "self": me.ru_utime + me.ru_stime,
            "wall": time.monotonic(),
        }

    def __enter__(self) -> CpuMeter:
        self.start = self._sample()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.end = self._sample()

    def report(self) -> dict[str, float]:
        d = {k: self.end[k] - self.start[k] for k in self.start}
        wall = d["wall"]
        loadgen = d["children"] + d["self"]  # wrk (reaped child) and/or this driver's asyncio
        known = d["server"] + d["pg_bench"] + d["redis"] + loadgen
        return {
            "server_pct": 100 * d["server"] / wall,
            "server_sys_pct": 100 * d["server_sys"] / wall,
            "postgres_pct": 100 * d["pg_bench"] / wall,
            "postgres_other_pct": 100 * (d["pg_all"] - d["pg_bench"]) / wall,
            "redis_pct": 100 * d["redis"] / wall,
            "loadgen_pct": 100 * loadgen / wall,
            "machine_busy_pct": 100 * d["busy"] / wall,
            "other_pct": max(0.0, 100 * (d["busy"] - known) / wall),
        }


class PgSampler:
    """Every 100 ms: what the bench database's backends are doing (pg_stat_activity).

    Averages say how many backends were running a statement, idle inside a transaction (the
    application holds the transaction -- and its row locks -- while it computes or waits for the
    GIL) or waiting for a lock, and which statements waited."""

    def __init__(self, interval: float = 0.1) -> None:
        import threading

        self.interval = interval
        self.stop = threading.Event()
        self.samples = 0
        self.states: collections.Counter = collections.Counter()
        self.waits: collections.Counter = collections.Counter()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            conn = psycopg.connect(db_url(), autocommit=True)
        except psycopg.Error:
            return
        with conn:
            while not self.stop.wait(self.interval):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, left(query, 70) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchall()
                self.samples += 1
                for state, wtype, wevent, query in rows:
                    if wtype == "Lock":
                        self.states["waiting for a lock"] += 1
                        self.waits[f"{wevent}: {' '.join(query.split())}"] += 1
                    else:
                        self.states[state or "?"] += 1

    def __enter__(self) -> PgSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def report(self) -> dict[str, Any]:
        n = max(1, self.samples)
        return {
            "avg_backends": {k: round(v / n, 1) for k, v in self.states.most_common()},
            "lock_waits": [(q, round(v / n, 2)) for q, v in self.waits.most_common(4)],
        }


def pg_text(p: dict[str, Any]) -> str:
    states = ", ".join(f"{k} {v}" for k, v in p["avg_backends"].items())
    waits = "; ".join(f"`{q}…` {v}" for q, v in p["lock_waits"][:2])
    return f"backends on average: {states}" + (f"; lock waits on: {waits}" if waits else "")


def cpu_text(c: dict[str, float]) -> str:
    return (
        f"server {c['server_pct']:.0f}% (kernel {c.get('server_sys_pct', 0):.0f}%), "
        f"postgres {c['postgres_pct']:.0f}%, "
        f"load generator {c['loadgen_pct']:.0f}%, redis {c['redis_pct']:.0f}%, "
        f"other processes {c['other_pct']:.0f}% (of 200%)"
    )


_LIVE_GROUPS: set[int] = set()


def _kill_live_groups() -> None:
    for pgid in list(_LIVE_GROUPS):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE_GROUPS.discard(pgid)


def _on_signal(signum: int, _frame: Any) -> None:
    _kill_live_groups()
    raise SystemExit(f"stopped by signal {signum}")


class Server:
    def __init__(
        self, processes: int, redis: bool = True, name: str = "server", **env: str
    ) -> None:
        self.processes = processes
        self.redis = redis
        self.name = name
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with socket.socket() as s:
            if s.connect_ex((HOST, PORT)) == 0:
                raise SystemExit(f"port {PORT} is taken: set BENCH_PORT")
        logfile = open(WORK / f"{self.name}.log", "ab")
        command = [
            PYTHON,
            "manage.py",
            "serve",
            "--host",
            HOST,
            "--port",
            str(PORT),
            "--processes",
            str(self.processes),
        ]
        if SERVE_CMD:  # an experiment: another server for the same app (see run.sh)
            command = shlex.split(
                SERVE_CMD.format(host=HOST, port=PORT, processes=self.processes, python=PYTHON)
            )
        self.proc = subprocess.Popen(
            command,
            cwd=APP_DIR,
            env=app_env(redis=self.redis, **self.env),
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _LIVE_GROUPS.add(self.proc.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: see {WORK / (self.name + '.log')}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{PORT}/healthz", timeout=2) as r:
                    if r.status == 200 and len(self.workers()) >= self.processes:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit("server did not come up within 60 s")
        time.sleep(1.0 if self.processes > 1 else 0.2)
        return self

    def pids(self) -> list[int]:
        return tree(self.proc.pid) if self.proc else []

    def workers(self) -> list[int]:
        """The processes that serve requests: the children of the server process (uvicorn's or
        gunicorn's workers), or the server process itself when it has none."""
        found = []
        for p in children_of(self.proc.pid):
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "resource_tracker" not in cmd:
                found.append(p)
        return found or [self.proc.pid]

    def __exit__(self, *exc: Any) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: its own process group, id = its pid
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        # uvicorn's workers go with the parent; make sure none is left behind.
        time.sleep(0.3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _LIVE_GROUPS.discard(pgid)


# --- tiny HTTP helpers ----------------------------------------------------------------------------


def http(method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(f"http://{HOST}:{PORT}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def staff_tokens(demo: Demo) -> dict[int, str]:
    tokens = {}
    for hall in demo.credentials["halls"]:
        staff = hall["staff"][0]
        status, body = http("POST", "/api/v1/auth/token", body=staff)
        assert status == 200, (status, body)
        tokens[hall["id"]] = body["token"]
    return tokens


def open_counters(demo: Demo, tokens: dict[int, str], halls: list[int] | None = None) -> None:
    for hall_id, counters in demo.counters.items():
        if halls is not None and hall_id not in halls:
            continue
        for cid in counters:
            status, body = http("POST", f"/api/v1/counters/{cid}/open", tokens[hall_id])
            assert status == 200, (status, body)


def run_wrk(
    script: str, threads: int, connections: int, seconds: float, env: dict[str, str], tag: str
) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH_DIR / script),
        f"http://{HOST}:{PORT}",
    ]
    out = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=seconds + 60
    )
    (WORK / f"wrk-{tag}.txt").write_text(out.stdout + out.stderr)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no RESULT line: {out.stdout}\n{out.stderr}")
    result: dict[str, Any] = {}
    for part in line.split()[1:]:
        key, _, value = part.partition("=")
        if key == "statuses":
            result[key] = {k: int(v) for k, v in (s.split("=") for s in value.split(";") if s)}
        else:
            result[key] = float(value)
    result["seconds"] = result["duration_us"] / 1e6
    return result


# --- figure 2: ticket issue ------------------------------------------------------------------------


def issue_targets(demo: Demo) -> str:
    return ",".join(
        f"{h['id']}:{sid}:{h['kiosk_token']}"
        for h in demo.credentials["halls"]
        for sid, _prefix in demo.services[h["id"]]
    )


def verify_issue(
    ids_file: Path, responses_201: int, connections: int, wrk_runs: int
) -> dict[str, Any]:
    """Every 201 is a ticket with the number it said; no number twice; the tickets the DB holds
    beyond the 201s counted are those in flight when wrk stopped (at most one per connection)."""
    seen = [line.split() for line in ids_file.read_text().splitlines()] if ids_file.exists() else []
    with db() as conn:
        dupes = conn.execute(
            "SELECT service_id, service_date, sequence, count(*) FROM queueing_ticket "
            "GROUP BY 1,2,3 HAVING count(*) > 1"
        ).fetchall()
        dupe_numbers = conn.execute(
            "SELECT hall_id, service_date, number, count(*) FROM queueing_ticket "
            "GROUP BY 1,2,3 HAVING count(*) > 1"
        ).fetchall()
        rows = dict(conn.execute("SELECT id, number FROM queueing_ticket").fetchall())
        holes = conn.execute(
            "SELECT count(*) FROM (SELECT service_id, max(sequence) m, count(*) c "
            "FROM queueing_ticket GROUP BY 1) s WHERE m <> c"
        ).fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM realtime_event WHERE kind = 'ticket.issued'"
        ).fetchone()[0]
        seq_ok = conn.execute(
            "SELECT bool_and(c.last_seq = e.n AND e.n = e.mx) FROM realtime_halleventcounter c "
            "JOIN (SELECT hall_id, count(*) n, max(seq) mx FROM realtime_event GROUP BY 1) e "
            "USING (hall_id)"
        ).fetchone()[0]
    ids = [int(t) for t, _n in seen if t.isdigit()]
    mismatched = sum(1 for t, n in seen if not t.isdigit() or rows.get(int(t)) != n)
    in_flight = len(rows) - len(set(ids))
    ok = (
        not dupes
        and not dupe_numbers
        and holes == 0
        and events == len(rows)
        and len(seen) == responses_201
        and len(ids) == len(set(ids))
        and mismatched == 0
        and 0 <= in_flight <= connections * wrk_runs
        and bool(seq_ok)
    )
    return {
        "ok": ok,
        "duplicates": len(dupes) + len(dupe_numbers),
        "tickets": len(rows),
        "responses_201": responses_201,
        "ids_logged": len(seen),
        "response_not_matching_db": mismatched,
        "in_flight_at_stop": in_flight,
        "sequence_holes": holes,
        "issued_events": events,
        "event_seq_gapless": bool(seq_ok),
    }


def phase_issue(demo: Demo, processes: int, redis_pid: int | None) -> dict[str, Any]:
    fresh_db()
    ids_file = WORK / f"issued-{processes}p.txt"
    ids_file.unlink(missing_ok=True)
    env = {"BENCH_ISSUE_TARGETS": issue_targets(demo), "BENCH_ISSUE_IDS": str(ids_file)}
    with Server(processes, name=f"issue-{processes}p") as server:
        warm = run_wrk("issue.lua", 1, ISSUE_CONNECTIONS, 2, env, f"issue-{processes}p-warmup")
        with CpuMeter(server, redis_pid) as meter, PgSampler() as pg:
            res = run_wrk(
                "issue.lua", 1, ISSUE_CONNECTIONS, ISSUE_SECONDS, env, f"issue-{processes}p"
            )
        rss = sum(proc_status(p, "VmRSS") for p in server.workers())
        time.sleep(0.5)  # let the requests in flight at wrk's stop finish before counting
    created = warm["statuses"].get("201", 0) + res["statuses"].get("201", 0)
    check = verify_issue(ids_file, created, ISSUE_CONNECTIONS, 2)
    ok201 = res["statuses"].get("201", 0)
    out = {
        "processes": processes,
        "rate": ok201 / res["seconds"],
        "p50_ms": res["p50_ms"],
        "p90_ms": res["p90_ms"],
        "p99_ms": res["p99_ms"],
        "max_ms": res["max_ms"],
        "requests": int(res["requests"]),
        "201": ok201,
        "other_statuses": {k: v for k, v in res["statuses"].items() if k != "201"},
        "socket_errors": int(
            res["errors_connect"] + res["errors_read"] + res["errors_write"] + res["errors_timeout"]
        ),
        "waiting_per_service_at_end": check["tickets"] / 15,
        "verify": check,
        "cpu": meter.report(),
        "rss_kb": rss,
        "pg": pg.report(),
    }
    log(
        f"issue {processes}p: {out['rate']:.0f}/s p50 {out['p50_ms']:.0f} ms p99 {out['p99_ms']:.0f} ms "
        f"verify={check} | {cpu_text(out['cpu'])}"
    )
    return out


# --- figure 3: call-next -----------------------------------------------------------------------------


def call_plan(demo: Demo, tokens: dict[int, str], clients: int) -> tuple[str, int]:
    pairs = [(cid, tokens[hall]) for hall, cids in demo.counters.items() for cid in cids]
    clients = min(clients, len(pairs))
    groups = [pairs[i::clients] for i in range(clients)]
    return "|".join(";".join(f"{cid}:{tok}" for cid, tok in g) for g in groups), clients


def verify_calls(ids_file: Path, calls_200: int, clients: int) -> dict[str, Any]:
    ids = [int(x) for x in ids_file.read_text().split()] if ids_file.exists() else []
    with db() as conn:
        events = conn.execute(
            "SELECT ticket_id, counter_id FROM realtime_event WHERE kind = 'ticket.called'"
        ).fetchall()
        twice = conn.execute(
            "SELECT ticket_id, count(*) FROM realtime_event WHERE kind = 'ticket.called' "
            "GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        inconsistent = conn.execute(
            """
            SELECT count(*) FROM realtime_event e JOIN queueing_ticket t ON t.id = e.ticket_id
            WHERE e.kind = 'ticket.called' AND (
                t.counter_id IS DISTINCT FROM e.counter_id
                OR t.state NOT IN ('called', 'serving', 'done')
                OR t.called_at IS NULL)
            """
        ).fetchone()[0]
        called_tickets = conn.execute(
            "SELECT count(*) FROM queueing_ticket WHERE called_at IS NOT NULL"
        ).fetchone()[0]
        active_per_counter = conn.execute(
            "SELECT count(*) FROM (SELECT counter_id FROM queueing_ticket "
            "WHERE state IN ('called','serving') GROUP BY 1 HAVING count(*) > 1) x"
        ).fetchone()[0]
        waiting_left = conn.execute(
            "SELECT count(*) FROM queueing_ticket WHERE state = 'waiting'"
        ).fetchone()[0]
    event_ids = [e[0] for e in events]
    # wrk stops with up to one request per connection in flight: those calls commit unseen.
    in_flight = len(set(event_ids) - set(ids))
    ok = (
        not twice
        and inconsistent == 0
        and active_per_counter == 0
        and len(ids) == len(set(ids)) == calls_200
        and set(ids) <= set(event_ids)
        and in_flight <= clients
        and called_tickets == len(event_ids)
    )
    return {
        "ok": ok,
        "in_flight_at_stop": in_flight,
        "responses_200": calls_200,
        "ids_from_responses": len(ids),
        "duplicate_ids_in_responses": len(ids) - len(set(ids)),
        "called_events": len(event_ids),
        "tickets_called_twice": len(twice),
        "inconsistent": inconsistent,
        "tickets_with_called_at": called_tickets,
        "counters_with_two_active": active_per_counter,
        "waiting_left": waiting_left,
    }


def phase_calls(
    demo: Demo,
    processes: int,
    redis_pid: int | None,
    backlog: int = CALL_BACKLOG_PER_SERVICE,
    seconds: float = CALL_SECONDS,
    tag: str = "",
) -> dict[str, Any]:
    fresh_db()
    issued = preissue(demo, backlog)
    ids_file = WORK / f"called-ids-{processes}p{tag}.txt"
    ids_file.unlink(missing_ok=True)
    with Server(processes, name=f"calls-{processes}p{tag}") as server:
        tokens = staff_tokens(demo)
        open_counters(demo, tokens)
        plan, clients = call_plan(demo, tokens, 30)
        env = {"BENCH_CALL_PLAN": plan, "BENCH_CALL_IDS": str(ids_file)}
        with CpuMeter(server, redis_pid) as meter, PgSampler() as pg:
            res = run_wrk(
                "callnext.lua", clients, clients, seconds, env, f"calls-{processes}p{tag}"
            )
    st = res["statuses"]
    calls = st.get("call_200", 0)
    time.sleep(0.5)
    check = verify_calls(ids_file, calls, clients)
    out = {
        "processes": processes,
        "clients": clients,
        "backlog": issued,
        "rate": calls / res["seconds"],
        "requests_rate": res["requests"] / res["seconds"],
        "p50_ms": res["p50_ms"],
        "p99_ms": res["p99_ms"],
        "max_ms": res["max_ms"],
        "statuses": st,
        "verify": check,
        "cpu": meter.report(),
        "pg": pg.report(),
        "socket_errors": int(
            res["errors_connect"] + res["errors_read"] + res["errors_write"] + res["errors_timeout"]
        ),
    }
    log(
        f"calls {processes}p{tag}: {out['rate']:.0f} calls/s ({out['requests_rate']:.0f} req/s) "
        f"p99 {out['p99_ms']:.0f} ms statuses={st} verify={check} | {cpu_text(out['cpu'])}"
    )
    return out


# --- SSE clients (figures 4 and 5) --------------------------------------------------------------------


def event_loop_policy() -> None:
    try:
        import uvloop  # the venv has it (uvicorn[standard]); far cheaper per callback

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


class SSEClient(asyncio.Protocol):
    """Keeps every read with its arrival time; parsing happens after the measurement."""

    def __init__(self, path: str, ready: collections.Counter) -> None:
        self.path = path
        self.chunks: list[tuple[float, bytes]] = []
        self.ready = False
        self.readies = ready
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(  # type: ignore[attr-defined]
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.monotonic(), data))
        # Ready = subscribed: the stream's first event, which the server sends only after it
        # subscribed (the snapshot, or the replay of the one event after Last-Event-ID).
        if not self.ready and (b"\nid: " in data or data.startswith(b"id: ")):
            self.ready = True
            self.readies["ready"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.readies["closed"] += 1

    def events(
        self, kind: bytes = b"ticket.called", start: int = 0
    ) -> list[tuple[int, int, float]]:
        """(seq, ticket_id, arrival) of every `kind` event from chunk `start` on, in order."""
        blob = bytearray()
        ends: list[tuple[int, float]] = []
        for t, c in self.chunks[start:]:
            blob += c
            ends.append((len(blob), t))
        out = []
        j = 0
        for m in re.finditer(rb"id: (\d+)\nevent: ([\w.]+)\ndata: (.*?)\n\n", blob, re.S):
            if m.group(2) != kind:
                continue
            while ends[j][0] < m.end():
                j += 1
            tid = int(re.search(rb'"ticket_id":(\d+)', m.group(3)).group(1))
            out.append((int(m.group(1)), tid, ends[j][1]))
        return out

    def seqs(self) -> list[int]:
        blob = b"".join(c for _, c in self.chunks)
        return [int(x) for x in re.findall(rb"(?:^|\n)id: (\d+)\n", blob)]


async def open_subscribers(
    n: int, path: str, ready: collections.Counter, batch: int = 100, stall: float = 15
) -> list[SSEClient]:
    """Open n streams, at most ~2 batches waiting to be subscribed at a time; fail when no
    stream gets subscribed for `stall` seconds (bounded even when the server breaks)."""
    loop = asyncio.get_running_loop()
    clients: list[SSEClient] = []
    base = ready["ready"]

    async def wait_for(count: int) -> None:
        last, since = ready["ready"], time.monotonic()
        while ready["ready"] - base < count:
            await asyncio.sleep(0.01)
            if ready["ready"] != last:
                last, since = ready["ready"], time.monotonic()
            elif time.monotonic() - since > stall:
                raise RuntimeError(
                    f"only {ready['ready'] - base}/{n} subscribers got subscribed "
                    f"(none for {stall:.0f} s; {ready['closed']} streams closed by the server)"
                )

    for i in range(0, n, batch):
        made = []
        for _k in range(i, min(n, i + batch)):
            client = SSEClient(path, ready)
            made.append(loop.create_connection(lambda c=client: c, HOST, PORT))
            clients.append(client)
        await asyncio.gather(*made)
        await wait_for(len(clients) - batch)
    await wait_for(n)
    return clients


class HttpConn:
    """One keep-alive HTTP/1.1 connection for the caller (requests one at a time)."""

    async def connect(self) -> HttpConn:
        self.reader, self.writer = await asyncio.open_connection(HOST, PORT)
        return self

    async def post(self, path: str, token: str) -> tuple[int, bytes, float]:
        sent = time.monotonic()
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?i)content-length: *(\d+)", head)
        body = await self.reader.readexactly(int(m.group(1))) if m else b""
        return status, body, sent

    def close(self) -> None:
        self.writer.close()


async def call_loop(
    counters: list[int], token: str, calls: int, rate: float
) -> list[dict[str, Any]]:
    """call-next on the counters in turn at `rate` calls/s; start each called ticket at once
    (so that the counter's next call-next finishes it). Send times are taken just before the
    request is written."""
    conn = await HttpConn().connect()
    records = []
    t0 = time.monotonic() + 0.2
    try:
        for k in range(calls):
            await asyncio.sleep(max(0.0, t0 + k / rate - time.monotonic()))
            cid = counters[k % len(counters)]
            status, body, sent = await conn.post(f"/api/v1/counters/{cid}/call-next", token)
            done = time.monotonic()
            if status != 200:
                records.append({"status": status, "sent": sent, "counter": cid})
                continue
            tid = int(re.search(rb'"id": ?(\d+)', body).group(1))
            records.append(
                {"status": 200, "ticket": tid, "sent": sent, "rtt": done - sent, "counter": cid}
            )
            s2, _b, _t = await conn.post(f"/api/v1/counters/{cid}/start", token)
            if s2 != 200:
                records[-1]["start_status"] = s2
    finally:
        conn.close()
    return records


def latency_stats(clients: list[SSEClient], records: list[dict[str, Any]]) -> dict[str, Any]:
    calls = [r for r in records if r["status"] == 200]
    sent = {r["ticket"]: r["sent"] for r in calls}
    order = [r["ticket"] for r in calls]
    latencies: list[float] = []
    first_seen: dict[int, float] = {}
    missed = out_of_order = seq_gaps = 0
    for client in clients:
        got = client.events()
        for _seq, tid, t in got:
            if tid in sent and (tid not in first_seen or t < first_seen[tid]):
                first_seen[tid] = t
        got_ids = [tid for _seq, tid, _t in got]
        if got_ids != order:
            missing = set(order) - set(got_ids)
            missed += len(missing)
            if not missing:
                out_of_order += 1
        for _seq, tid, t in got:
            if tid in sent:
                latencies.append((t - sent[tid]) * 1000)
        seqs = client.seqs()
        seq_gaps += sum(1 for a, b in itertools.pairwise(seqs) if b != a + 1)
    rtts = [r["rtt"] * 1000 for r in calls]
    # How long the server took before the first subscriber saw the call (processing + publish),
    # as opposed to the fan-out to all of them.
    first = [(first_seen[t] - sent[t]) * 1000 for t in first_seen]
    return {
        "first_subscriber_p50_ms": pct(first, 50),
        "first_subscriber_p99_ms": pct(first, 99),
        "calls_rtt_over_100ms": sum(1 for x in rtts if x > 100),
        "subscribers": len(clients),
        "calls": len(calls),
        "non_200_calls": len(records) - len(calls),
        "pairs": len(latencies),
        "expected_pairs": len(clients) * len(calls),
        "missed": missed,
        "subscribers_out_of_order": out_of_order,
        "seq_gaps": seq_gaps,
        "closed_early": sum(1 for c in clients if c.closed),
        "p50_ms": pct(latencies, 50),
        "p90_ms": pct(latencies, 90),
        "p99_ms": pct(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "call_rtt_p50_ms": pct(rtts, 50),
        "call_rtt_p99_ms": pct(rtts, 99),
    }


def close_all(clients: list[SSEClient]) -> None:
    for c in clients:
        if c.transport is not None and not c.closed:
            c.transport.abort()


def server_errors(server: Server) -> str:
    """The server log's exceptions, counted by their last line (e.g. PoolTimeout)."""
    log_path = WORK / f"{server.name}.log"
    if not log_path.exists():
        return ""
    counts = collections.Counter(
        line.strip()[:120]
        for line in log_path.read_text(errors="replace").splitlines()
        if re.match(r"^[\w.]+(Error|Exception|Timeout)\b.*:", line)
    )
    return "; ".join(f"{n}× {line}" for line, n in counts.most_common(3))


async def latency_run(
    demo: Demo,
    tokens: dict[int, str],
    hall_id: int,
    ready: collections.Counter,
    clients: list[SSEClient],
) -> dict[str, Any]:
    t = time.monotonic()
    clients += await open_subscribers(LATENCY_SUBSCRIBERS, f"/api/v1/halls/{hall_id}/events", ready)
    connect_s = time.monotonic() - t
    await asyncio.sleep(1.0)
    records = await call_loop(demo.counters[hall_id], tokens[hall_id], LATENCY_CALLS, LATENCY_RATE)
    # Give the last call up to 10 s to reach everyone: what arrives later counts as missed.
    last = next((r["ticket"] for r in reversed(records) if r["status"] == 200), None)
    needle = f'"ticket_id":{last},'.encode()
    deadline = time.monotonic() + 10
    while last is not None and time.monotonic() < deadline:
        waiting = [c for c in clients if not any(needle in chunk for _t, chunk in c.chunks[-8:])]
        if not waiting:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    stats = latency_stats(clients, records)
    stats["connect_seconds"] = connect_s
    return stats


def phase_latency(demo: Demo, processes: int, redis_pid: int | None) -> dict[str, Any]:
    fresh_db()
    hall_id = demo.credentials["halls"][0]["id"]
    preissue(demo, (LATENCY_CALLS // len(demo.services[hall_id])) + 20, halls=[hall_id])
    ready: collections.Counter = collections.Counter()
    clients: list[SSEClient] = []
    with Server(processes, name=f"latency-{processes}p") as server:
        tokens = staff_tokens(demo)
        open_counters(demo, tokens, halls=[hall_id])
        event_loop_policy()

        async def run() -> dict[str, Any]:
            try:
                return await latency_run(demo, tokens, hall_id, ready, clients)
            finally:
                close_all(clients)
                await asyncio.sleep(0.5)

        try:
            with CpuMeter(server, redis_pid) as meter:
                stats = asyncio.run(run())
            stats["cpu"] = meter.report()
        except RuntimeError as e:
            stats = {
                "error": str(e),
                "server_errors": server_errors(server),
                "threads": sum(proc_status(p, "Threads") for p in server.workers()),
            }
        stats["rss_kb"] = sum(proc_status(p, "VmRSS") for p in server.workers())
    stats["processes"] = processes
    stats["rate"] = LATENCY_RATE
    stats["subscribers_wanted"] = LATENCY_SUBSCRIBERS
    log(f"latency {processes}p: {json.dumps({k: v for k, v in stats.items() if k != 'cpu'})}")
    return stats


async def capacity_run(
    demo: Demo, tokens: dict[int, str], hall_id: int, server: Server
) -> list[dict[str, Any]]:
    """Streams in steps to ONE process. The first step's streams connect as a new display
    does (snapshot first); later ones as a display reconnecting with Last-Event-ID (a range
    read of the log instead of a snapshot): the same state is held per stream, but connecting
    10,000 takes a fraction of the time. Each step: RSS, threads, then one call's latency."""
    ready: collections.Counter = collections.Counter()
    pid = server.workers()[0]
    base_rss = proc_status(pid, "VmRSS")
    base_threads = proc_status(pid, "Threads")
    steps: list[dict[str, Any]] = [{"subscribers": 0, "rss_kb": base_rss, "threads": base_threads}]
    clients: list[SSEClient] = []
    counters = demo.counters[hall_id]
    path = f"/api/v1/halls/{hall_id}/events"
    try:
        for k, target in enumerate(CAPACITY_STEPS):
            before = len(clients)
            t = time.monotonic()
            try:
                clients += await open_subscribers(target - len(clients), path, ready)
            except (RuntimeError, OSError) as e:
                steps.append(
                    {
                        "subscribers": target,
                        "error": str(e)[:200],
                        "server_errors": server_errors(server),
                        "threads": proc_status(pid, "Threads"),
                        "rss_kb": proc_status(pid, "VmRSS"),
                    }
                )
                break
            connect_s = time.monotonic() - t
            if k == 0:
                # Later streams resume after the second-to-last event: the replay of the last
                # one is their "subscribed" signal.
                seqs = clients[0].seqs()
                if seqs and max(seqs) > 1:
                    path = f"{path}?last_event_id={max(seqs) - 1}"
            await asyncio.sleep(2.0)
            rss = proc_status(pid, "VmRSS")
            threads = proc_status(pid, "Threads")
            marks = [len(c.chunks) for c in clients]
            spy = None
            if os.environ.get("BENCH_CAPACITY_PROFILE") and Path(PY_SPY).exists():
                # Optional: where one event's fan-out to every stream spends its time.
                spy = py_spy_record(pid, WORK / f"profile-fanout-{target}.txt", 3, rate=500)
                await asyncio.sleep(0.5)
            records = await call_loop([counters[k % len(counters)]], tokens[hall_id], 1, 1.0)
            await asyncio.sleep(3.0)
            if spy is not None:
                spy.wait(timeout=30)
            lat: list[float] = []
            if records and records[0]["status"] == 200:
                tid, sent = records[0]["ticket"], records[0]["sent"]
                for c, m in zip(clients, marks, strict=True):
                    lat += [(at - sent) * 1000 for _s, etid, at in c.events(start=m) if etid == tid]
            step = {
                "subscribers": len(clients),
                "connect_seconds": connect_s,
                "connect_rate": (len(clients) - before) / connect_s if connect_s else 0.0,
                "rss_kb": rss,
                "threads": threads,
                "rss_per_sub_kb": (rss - base_rss) / len(clients),
                "call_status": records[0]["status"] if records else None,
                "received": len(lat),
                "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99),
                "max_ms": max(lat) if lat else float("nan"),
                "closed": sum(1 for c in clients if c.closed),
            }
            steps.append(step)
            log(f"capacity: {step}")
    finally:
        close_all(clients)
        await asyncio.sleep(1.0)
    return steps


def phase_capacity(demo: Demo, redis_pid: int | None) -> list[dict[str, Any]]:
    fresh_db()
    hall_id = demo.credentials["halls"][0]["id"]
    preissue(demo, 5, halls=[hall_id])
    with Server(1, name="capacity-1p") as server:
        tokens = staff_tokens(demo)
        open_counters(demo, tokens, halls=[hall_id])
        event_loop_policy()
        steps = asyncio.run(capacity_run(demo, tokens, hall_id, server))
    return steps


# --- the framework's floor ----------------------------------------------------------------------------


FLOOR_PATHS = ("/healthz", "/api/v1/halls/1/services")


def phase_floor(redis_pid: int | None) -> list[dict[str, Any]]:
    """Plain GETs at 50 connections: what the server stack costs before any queue logic.
    /healthz is a plain Django view with one SELECT 1; /halls/1/services a public ninja GET with
    two small queries."""
    fresh_db()
    out = []
    for processes in (1, 2):
        with Server(processes, name=f"floor-{processes}p") as server:
            run_wrk(
                "get.lua", 1, ISSUE_CONNECTIONS, 2, {"BENCH_PATH": FLOOR_PATHS[0]}, "floor-warmup"
            )
            for path in FLOOR_PATHS:
                with CpuMeter(server, redis_pid) as meter:
                    res = run_wrk(
                        "get.lua",
                        1,
                        ISSUE_CONNECTIONS,
                        6,
                        {"BENCH_PATH": path},
                        f"floor-{processes}p-{path.strip('/').replace('/', '-')}",
                    )
                ok = res["statuses"].get("200", 0)
                row = {
                    "processes": processes,
                    "path": path,
                    "rate": ok / res["seconds"],
                    "p50_ms": res["p50_ms"],
                    "p99_ms": res["p99_ms"],
                    "non_200": res["requests"] - ok,
                    "cpu": meter.report(),
                }
                out.append(row)
                log(
                    f"floor {processes}p {path}: {row['rate']:.0f}/s p99 {row['p99_ms']:.0f} ms | "
                    f"{cpu_text(row['cpu'])}"
                )
    return out


# --- instructions per request (callgrind) ---------------------------------------------------------

INSTRUCTION_COUNT = int(os.environ.get("BENCH_INSTRUCTION_COUNT", "100"))
INSTRUCTION_WARM_UP = 30  # requests before the counted ones (memos, prepared statements filled)


def callgrind_total(out: Path) -> int:
    """The instructions a callgrind output file counted in all (its ``totals:`` line; its
    ``summary:`` is 0 when instrumentation starts off)."""
    for line in reversed(out.read_text().splitlines()):
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def callgrind_per_request(
    load: str, arguments: list[str], env: dict[str, str], count: int
) -> float:
    """bench/instructions.py under callgrind with ``arguments``: its instructions per measured
    request."""
    raw = WORK / f"instructions-{load}.out"
    raw.unlink(missing_ok=True)
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={raw}",
        PYTHON,
        str(BENCH_DIR / "instructions.py"),
        *arguments,
    ]
    with open(WORK / f"instructions-{load}.log", "wb") as logfile:
        done = subprocess.run(
            command, cwd=APP_DIR, env=env, stdout=logfile, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        raise RuntimeError(f"{load}: exit {done.returncode}, see instructions-{load}.log")
    return callgrind_total(raw) / count


def in_process_loads(demo: Demo, requests: int) -> Iterator[tuple[str, list[str]]]:
    """bench/instructions.py's two loads, each on a fresh database (the calls' with waiting
    tickets for ``requests`` calls and more): the load's name and its arguments, but for the
    count and the warm-up."""
    counters = [(hall, cid) for hall, cids in demo.counters.items() for cid in cids][:30]
    services = [(hall, sid) for hall, sids in demo.services.items() for sid, _prefix in sids]
    for load, ids in (("calls", counters), ("issue", services)):
        fresh_db()
        if load == "calls":
            preissue(demo, max(CALL_BACKLOG_PER_SERVICE, requests // 10))
        yield (
            load,
            [
                "--load",
                load,
                "--credentials",
                str(WORK / "var" / "demo-credentials.json"),
                "--ids",
                ",".join(f"{a}:{b}" for a, b in ids),
            ],
        )


def phase_instructions(demo: Demo) -> dict[str, Any]:
    """Instructions per call-next + start pair and per kiosk ticket, in process under callgrind
    (bench/instructions.py): a figure the machine's speed does not move."""
    out: dict[str, Any] = {"count": INSTRUCTION_COUNT}
    for load, arguments in in_process_loads(demo, INSTRUCTION_COUNT + INSTRUCTION_WARM_UP):
        started = time.monotonic()
        arguments += ["--count", str(INSTRUCTION_COUNT), "--warm", str(INSTRUCTION_WARM_UP)]
        per = callgrind_per_request(load, arguments, app_env(), INSTRUCTION_COUNT)
        out[load] = per
        log(
            f"instructions {load}: {per / 1e6:.2f} M per "
            f"{'call-next + start' if load == 'calls' else 'ticket'} "
            f"({time.monotonic() - started:.0f} s under valgrind)"
        )
    return out


CPU_COUNT = int(os.environ.get("BENCH_CPU_COUNT", "2000"))
CPU_WARM_UP = 200


def phase_cpu(demo: Demo) -> dict[str, Any]:
    """CPU per call-next + start pair and per kiosk ticket, in this process's Python (every
    thread) and in PostgreSQL (every process), the requests run one at a time in process
    (bench/instructions.py --measure cpu): where a pair's CPU goes, with no lock waits or
    scheduling in it. Moves with the machine's speed: compare trees minutes apart."""
    out: dict[str, Any] = {"count": CPU_COUNT}
    for load, arguments in in_process_loads(demo, CPU_COUNT + CPU_WARM_UP):
        command = [PYTHON, str(BENCH_DIR / "instructions.py"), "--measure", "cpu", *arguments]
        command += ["--count", str(CPU_COUNT), "--warm", str(CPU_WARM_UP)]
        if os.environ.get("BENCH_CPU_PROFILE") and Path(PY_SPY).exists():
            # py-spy's raw stacks of the whole run (warm-up included), for a closer look.
            raw = WORK / f"cpu-{load}.pyspy.txt"
            spy = [PY_SPY, "record", "--gil", "--rate", "500", "--format", "raw", "-o", str(raw)]
            command = [*spy, "--", *command]
        done = subprocess.run(
            command, cwd=APP_DIR, env=app_env(), capture_output=True, text=True, check=False
        )
        (WORK / f"cpu-{load}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"{load}: exit {done.returncode}, see cpu-{load}.log")
        per = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
        out[load] = per
        log(
            f"cpu {load}: Python {per['python_cpu_us']:.0f} µs, PostgreSQL "
            f"{per['postgres_cpu_us']:.0f} µs, wall {per['wall_us']:.0f} µs per "
            f"{'call-next + start' if load == 'calls' else 'ticket'} ({CPU_COUNT} in a row)"
        )
    return out


# --- figure 6: profiles ------------------------------------------------------------------------------


def py_spy_record(
    pid: int, raw: Path, seconds: float, *, rate: int = 250, gil: bool = True
) -> subprocess.Popen[bytes]:
    """py-spy recording one process's raw stacks in the background for ``seconds``: with
    ``gil`` only the samples holding the GIL (Python CPU), otherwise every thread, idle too."""
    return subprocess.Popen(
        [
            PY_SPY,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(rate),
            "--gil" if gil else "--idle",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(raw: Path, top: int = 18) -> dict[str, Any]:
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        total += count
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        frames = [
            f.replace(str(APP_DIR) + "/", "").replace(".venv/lib/python3.11/site-packages/", "")
            for f in frames
        ]
        own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    app = [(f, n) for f, n in incl.most_common() if "hallq/" in f or "config/" in f]
    return {
        "samples": total,
        "own": [(f, round(100 * n / total, 1)) for f, n in own.most_common(top)],
        "app_inclusive": [(f, round(100 * n / total, 1)) for f, n in app[:top]],
    }


def profile_under(load: str, demo: Demo, redis_pid: int | None) -> dict[str, Any]:
    fresh_db()
    if load == "calls":
        preissue(demo, CALL_BACKLOG_PER_SERVICE)
    with Server(1, name=f"profile-{load}") as server:
        if load == "calls":
            tokens = staff_tokens(demo)
            open_counters(demo, tokens)
            plan, clients = call_plan(demo, tokens, 30)
            env = {"BENCH_CALL_PLAN": plan, "BENCH_CALL_IDS": str(WORK / "profile-ids.txt")}
            wrk_args = ("callnext.lua", clients, clients)
        else:
            env = {"BENCH_ISSUE_TARGETS": issue_targets(demo)}
            wrk_args = ("issue.lua", 1, ISSUE_CONNECTIONS)
        raw = WORK / f"profile-{load}.txt"
        # Warm up first: the first requests import modules and fill caches (one-time costs).
        run_wrk(*wrk_args, 2, env, f"profile-{load}-warmup")
        spy = py_spy_record(server.workers()[0], raw, PROFILE_SECONDS)
        res = run_wrk(*wrk_args, PROFILE_SECONDS + 1, env, f"profile-{load}")
        spy.wait(timeout=60)
    summary = (
        summarise_profile(raw) if raw.exists() else {"samples": 0, "own": [], "app_inclusive": []}
    )
    good = res["statuses"].get("201", 0) + sum(
        v for k, v in res["statuses"].items() if k.endswith("_200")
    )
    summary["rate_while_profiled"] = (
        res["statuses"].get("201", res["statuses"].get("call_200", 0)) / res["seconds"]
    )
    if good < 0.9 * res["requests"]:
        raise RuntimeError(f"the profiled load mostly failed: {res['statuses']}")
    log(
        f"profile {load}: {summary['samples']} samples, top app frames: {summary['app_inclusive'][:6]}"
    )
    return summary


# --- pgbench: the database's own ceiling for the issue transaction -----------------------------------


PGBENCH_ISSUE = """\
\\set svc random(1, 15)
\\set hall 1 + (:svc - 1) / 5
BEGIN;
UPDATE queueing_ticketsequence SET last_number = last_number + 1 WHERE service_id = :svc AND service_date = CURRENT_DATE RETURNING last_number;
INSERT INTO queueing_ticket (hall_id, service_id, service_date, sequence, number, kind, channel, state, issued_at, queue_time, recall_count, people_ahead_at_issue) VALUES (:hall, :svc, CURRENT_DATE, nextval('bench_seq'), 'X', 'walk_in', 'kiosk', 'waiting', now(), now(), 0, 0);
UPDATE realtime_halleventcounter SET last_seq = last_seq + 1 WHERE hall_id = :hall RETURNING last_seq;
INSERT INTO realtime_event (hall_id, seq, kind, payload, created_at) VALUES (:hall, nextval('bench_seq2'), 'ticket.issued', '{}', now());
COMMIT;
"""


def phase_pgbench() -> dict[str, Any]:
    fresh_db()
    with db() as conn:
        conn.execute("CREATE SEQUENCE bench_seq; CREATE SEQUENCE bench_seq2")
        conn.execute(
            "INSERT INTO queueing_ticketsequence (hall_id, service_id, service_date, last_number) "
            "SELECT hall_id, id, CURRENT_DATE, 0 FROM halls_service"
        )
        conn.execute(
            "INSERT INTO realtime_halleventcounter (hall_id, last_seq) SELECT id, 0 FROM halls_hall "
            "ON CONFLICT DO NOTHING"
        )
    script = WORK / "pgbench-issue.sql"
    script.write_text(PGBENCH_ISSUE)
    out = {}
    for clients in (1, 50):
        res = subprocess.run(
            [
                "pgbench",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-n",
                "-M",
                "prepared",
                "-f",
                str(script),
                "-c",
                str(clients),
                "-j",
                "2" if clients > 1 else "1",
                "-T",
                "5",
                DB,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        (WORK / f"pgbench-{clients}.txt").write_text(res.stdout + res.stderr)
        tps = re.search(r"tps = ([\d.]+)", res.stdout)
        lat = re.search(r"latency average = ([\d.]+) ms", res.stdout)
        out[str(clients)] = {
            "tps": float(tps.group(1)) if tps else None,
            "latency_ms": float(lat.group(1)) if lat else None,
        }
    log(f"pgbench issue transaction: {out}")
    return out


# --- report -----------------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    cpu = next(
        (
            x.split(":", 1)[1].strip()
            for x in Path("/proc/cpuinfo").read_text().splitlines()
            if x.startswith("model name")
        ),
        "?",
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    with psycopg.connect(f"{PG_URL}/postgres") as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "date": subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip(),
        "nproc": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "postgres": pg,
        "python": platform.python_version(),
        "git": (
            subprocess.run(
                ["git", "-C", str(GIT_DIR), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            or "(not a git tree)"
        )
        + (
            " + uncommitted changes"
            if subprocess.run(
                ["git", "-C", str(GIT_DIR), "status", "--porcelain", "--", "hallq", "config"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            else ""
        ),
        "app_dir": str(GIT_DIR) + (f" (copied to {APP_DIR} at the start)" if SNAPSHOT else ""),
    }


def mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def render(results: dict[str, Any], command: str) -> str:
    m = results["machine"]
    nan = float("nan")
    lines = [
        f"## Run of {m['date']}",
        "",
        f"- Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM; PostgreSQL {m['postgres']}; "
        f"Python {m['python']}; app at {m['app_dir']} (git {m['git']})",
        f"- Command: `{command}` (took {results.get('elapsed_s', 0):.0f} s)",
        "- Load generators: wrk 4.1 + Lua for HTTP (C, the cheapest: one thread drives the 50 issue "
        "connections at ~1% CPU; call loops use one wrk thread per connection so that each owns "
        "its counters); raw asyncio (uvloop) protocol sockets for SSE, parsed after the run. All "
        "share the 2 cores with the server and PostgreSQL; the CPU split of each run is below, "
        "including other processes on the machine (noise).",
        "",
        "| Figure | Result | Target | |",
        "| --- | --- | --- | --- |",
    ]
    for r in results.get("issue", []):
        lines.append(
            f"| Ticket issue, 50 connections, {r['processes']} process(es) | "
            f"{r['rate']:.0f} tickets/s, p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms | "
            f"≥ 700/s, p99 < 100 ms | {mark(r['rate'] >= 700 and r['p99_ms'] < 100)} |"
        )
    for r in results.get("calls", []):
        lines.append(
            f"| Call-next, {r['clients']} clients × 1 counter, {r['processes']} process(es), "
            f"{r['backlog']} waiting at start | {r['rate']:.0f} calls/s "
            f"({r['requests_rate']:.0f} req/s with the starts), p99 {r['p99_ms']:.0f} ms | ≥ 500/s | "
            f"{mark(r['rate'] >= 500 and r['verify']['ok'])} |"
        )
    for r in results.get("latency", []):
        if "error" in r:
            lines.append(
                f"| Call → display, {r['subscribers_wanted']} SSE subscribers, {r['processes']} "
                f"process(es) | **failed**: {r['error']} | p99 ≤ 100 ms | **not met** |"
            )
            continue
        ok = r["p99_ms"] <= 100 and r["missed"] == 0 and r["subscribers_out_of_order"] == 0
        lines.append(
            f"| Call → display, {r['subscribers']} SSE subscribers, {r['calls']} calls at "
            f"{r['rate']:g}/s, {r['processes']} process(es) | p50 {r['p50_ms']:.0f} ms, "
            f"p90 {r['p90_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms; "
            f"missed {r['missed']} of {r['expected_pairs']} | p99 ≤ 100 ms, none missed | "
            f"{mark(ok)} |"
        )
    cap = results.get("capacity")
    if cap:
        good = [s for s in cap if "error" not in s and s["subscribers"]]
        held = max((s["subscribers"] for s in good if s["received"] == s["subscribers"]), default=0)
        per = good[-1]["rss_per_sub_kb"] if good else nan
        failed = next((s for s in cap if "error" in s), None)
        last = good[-1] if good else {}
        text = (
            f"{held} held, all got the event; {per:.0f} KiB RSS per subscriber; event p99 "
            f"{last.get('p99_ms', nan):.0f} ms at {last.get('subscribers', 0)}"
        )
        if failed:
            text += f"; **failed** at {failed['subscribers']}: {failed['error']}"
        lines.append(
            f"| SSE subscribers on ONE process | {text} | 10,000 | {mark(held >= 10000)} |"
        )
    if results.get("booking"):
        lines += booking_module().summary_rows(results["booking"])
    if results.get("notifications"):
        lines += notifications_module().summary_rows(results["notifications"])
    if results.get("failures"):
        lines += ["", "Phases that failed: " + "; ".join(results["failures"])]
    lines += ["", "Correctness checks (SQL after each run):", ""]
    for r in results.get("issue", []):
        v = r["verify"]
        lines.append(
            f"- issue {r['processes']}p: {v['tickets']} tickets in the DB = {v['responses_201']} "
            f"201 responses (2 s warm-up included; each response's id and number found in the DB, "
            f"mismatches {v['response_not_matching_db']}) + {v['in_flight_at_stop']} in flight when "
            f"wrk stopped; duplicate numbers {v['duplicates']} (the GROUP BY … HAVING count(*)>1 "
            f"query); sequence holes {v['sequence_holes']}; ticket.issued events "
            f"{v['issued_events']}; hall event numbers gapless {v['event_seq_gapless']}; non-201 "
            f"{r['other_statuses'] or 'none'}; socket errors {r['socket_errors']} → "
            f"**{'OK' if v['ok'] else 'FAILED'}**"
        )
    for r in results.get("calls", []):
        v = r["verify"]
        lines.append(
            f"- calls {r['processes']}p: {v['responses_200']} call-next 200s, all among the "
            f"{v['called_events']} ticket.called events ({v['in_flight_at_stop']} more were in "
            f"flight at wrk's stop); tickets with two ticket.called events "
            f"{v['tickets_called_twice']}; duplicate ids in responses "
            f"{v['duplicate_ids_in_responses']}; event/ticket state or counter inconsistent "
            f"{v['inconsistent']}; counters with two active tickets "
            f"{v['counters_with_two_active']}; statuses {r['statuses']} → "
            f"**{'OK' if v['ok'] else 'FAILED'}**"
        )
    for r in results.get("latency", []):
        if "error" in r:
            lines.append(
                f"- latency {r['processes']}p: FAILED — {r['error']}. Server log: "
                f"{r.get('server_errors') or '-'}; server threads {r.get('threads')}"
            )
            continue
        lines.append(
            f"- latency {r['processes']}p: {r['pairs']}/{r['expected_pairs']} subscriber×call "
            f"pairs received, subscribers out of order {r['subscribers_out_of_order']}, event-id "
            f"gaps {r['seq_gaps']}, streams closed early {r['closed_early']}; call-next round trip "
            f"p50 {r['call_rtt_p50_ms']:.0f} ms / p99 {r['call_rtt_p99_ms']:.0f} ms "
            f"({r['calls_rtt_over_100ms']} calls over 100 ms); first subscriber to see a call "
            f"p50 {r['first_subscriber_p50_ms']:.0f} ms / p99 {r['first_subscriber_p99_ms']:.0f} ms; "
            f"{r['subscribers']} subscribers connected in {r['connect_seconds']:.1f} s"
        )
    lines += [
        "",
        "Where the time went (CPU in % of one core, 200% = both cores; PostgreSQL "
        "backends sampled every 100 ms):",
        "",
    ]
    for group in ("issue", "calls", "latency"):
        for r in results.get(group, []):
            if "cpu" not in r:
                continue
            extra = f"; {pg_text(r['pg'])}" if "pg" in r else ""
            lines.append(f"- {group} {r['processes']}p: {cpu_text(r['cpu'])}{extra}")
    if cap:
        lines += [
            "",
            "SSE capacity, one process (`--processes 1`; the first 1,000 streams connect fresh "
            "and get a snapshot, the rest reconnect with `last_event_id` and get one event "
            "replayed; each step: RSS 2 s after the last stream is subscribed, then one call):",
            "",
            "| Subscribers | VmRSS | Threads | RSS/subscriber | Connect rate | Event received | "
            "p50 | p99 | max |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for s in cap:
            if "error" in s:
                lines.append(
                    f"| {s['subscribers']} | {s.get('rss_kb', 0) / 1024:.0f} MiB | "
                    f"{s.get('threads', '')} | **failed**: {s['error']} "
                    f"{s.get('server_errors', '')} | | | | | |"
                )
                continue
            if s["subscribers"] == 0:
                lines.append(f"| 0 | {s['rss_kb'] / 1024:.0f} MiB | {s['threads']} | | | | | | |")
                continue
            lines.append(
                f"| {s['subscribers']} | {s['rss_kb'] / 1024:.0f} MiB | {s['threads']} | "
                f"{s['rss_per_sub_kb']:.0f} KiB | {s['connect_rate']:.0f}/s | {s['received']} | "
                f"{s['p50_ms']:.0f} ms | {s['p99_ms']:.0f} ms | {s['max_ms']:.0f} ms |"
            )
    floor = results.get("floor")
    if floor:
        lines += [
            "",
            "The server stack's floor (plain GETs, 50 connections, same `manage.py serve`): "
            + "; ".join(
                f"{r['path']} {r['processes']}p {r['rate']:.0f}/s (p99 {r['p99_ms']:.0f} ms, server "
                f"{r['cpu']['server_pct']:.0f}% of which kernel {r['cpu'].get('server_sys_pct', 0):.0f}%)"
                for r in floor
            )
            + ".",
        ]
    counted = results.get("instructions")
    if counted:
        lines += [
            "",
            "Instructions per request in process (callgrind, bench/instructions.py: the ASGI "
            "app driven without sockets, everything but uvicorn and the kernel; the memos "
            "kept as at full load; machine speed left out, ±0.2 % between runs; "
            f"{counted['count']} measured after {INSTRUCTION_WARM_UP} warm-up): "
            f"call-next + start {counted['calls'] / 1e6:.2f} M per pair, kiosk ticket "
            f"{counted['issue'] / 1e6:.2f} M.",
        ]
    cpu = results.get("cpu")
    if cpu:
        each = {
            load: f"Python {cpu[load]['python_cpu_us']:.0f} µs + PostgreSQL "
            f"{cpu[load]['postgres_cpu_us']:.0f} µs (wall {cpu[load]['wall_us']:.0f} µs)"
            for load in ("calls", "issue")
            if load in cpu
        }
        lines += [
            "",
            "CPU per request, one at a time in process (bench/instructions.py --measure cpu: "
            "this process's every thread, and every PostgreSQL process; moves with the "
            f"machine's speed; {cpu['count']} measured after {CPU_WARM_UP} warm-up): "
            f"call-next + start {each.get('calls', '-')} per pair; kiosk ticket "
            f"{each.get('issue', '-')}.",
        ]
    pg = results.get("pgbench")
    if pg:
        lines += [
            "",
            "PostgreSQL alone (pgbench -M prepared, the issue transaction's 4 writes incl. the "
            f"per-hall event counter): 1 client {pg['1']['tps'] or 0:.0f} tps "
            f"({pg['1']['latency_ms'] or 0:.1f} ms each); 50 clients {pg['50']['tps'] or 0:.0f} "
            f"tps ({pg['50']['latency_ms'] or 0:.1f} ms).",
        ]
    if results.get("booking"):
        lines += booking_module().detail_lines(results["booking"])
    if results.get("notifications"):
        lines += notifications_module().detail_lines(results["notifications"])
    for load, prof in (results.get("profiles") or {}).items():
        lines += [
            "",
            f"Profile under {load} load (py-spy --gil, i.e. Python CPU only; 1 process; "
            f"{prof['samples']} samples; {prof['rate_while_profiled']:.0f}/s while profiled). "
            "App frames, inclusive:",
            "",
        ]
        lines += [f"- {n}% {f}" for f, n in prof["app_inclusive"][:12]]
        lines += ["", "Hottest leaf frames:", ""]
        lines += [f"- {n}% {f}" for f, n in prof["own"][:8]]
    notes = BENCH_DIR / "NOTES.md"
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    return "\n".join(lines) + "\n"


def booking_module() -> Any:
    """bench/hallq_booking.py, which imports its helpers from this module: run as a script,
    this module is __main__, and the booking code must share its globals (the servers to kill
    on a signal), not load a second copy."""
    import sys

    sys.modules.setdefault("hallq_bench", sys.modules[__name__])
    import hallq_booking

    return hallq_booking


def notifications_module() -> Any:
    """bench/hallq_notifications.py, sharing this module's globals as booking_module's does."""
    import sys

    sys.modules.setdefault("hallq_bench", sys.modules[__name__])
    import hallq_notifications

    return hallq_notifications


def write_results(section: str) -> None:
    """Append this run's section to RESULTS.md, replacing a section of the same day."""
    path = BENCH_DIR / "RESULTS.md"
    head = "# hallq benchmark results\n\nNewest run first; one section per day (a later run the same day replaces it). Produced by `bash bench/run.sh`.\n"
    text = path.read_text() if path.exists() else head
    if not text.startswith("# hallq benchmark results"):
        text = head + "\n" + text
    body = text[len(text.split("\n## ", 1)[0]) :]
    sections = [s for s in re.split(r"(?m)^(?=## Run of )", body) if s.strip()]
    today = dt.datetime.now(dt.UTC).strftime("%b %d")
    today2 = dt.datetime.now(dt.UTC).strftime("%b %e")
    year = str(dt.datetime.now(dt.UTC).year)
    keep = [
        s
        for s in sections
        if not (
            (today in s.splitlines()[0] or today2 in s.splitlines()[0])
            and year in s.splitlines()[0]
        )
    ]
    path.write_text(
        text.split("\n## ", 1)[0].rstrip()
        + "\n\n"
        + section.rstrip()
        + "\n\n"
        + "".join(s.rstrip() + "\n\n" for s in keep)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phases", nargs="*", default=["all"])
    parser.add_argument("--redis-pid", type=int, default=None)
    parser.add_argument("--command", default="bash bench/run.sh")
    parser.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md")
    parser.add_argument("--render-from", help="results.json of a finished run: render it again")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md for experiments too")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    import atexit

    atexit.register(_kill_live_groups)
    if args.render_from:
        # Re-render a finished run (e.g. after editing bench/NOTES.md) without running it again.
        results = json.loads(Path(args.render_from).read_text())
        section = render(results, results.get("command", args.command))
        print(section)
        if args.write:
            write_results(section)
        return
    phases = set(args.phases)
    if "all" in phases:
        phases = {
            "issue",
            "calls",
            "latency",
            "capacity",
            "profile",
            "instructions",
            "cpu",
            "pgbench",
            "floor",
            "booking",
            "notifications",
        }
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine_info()}
    log(f"template database {TEMPLATE_DB}: migrate + load_demo (app at {APP_DIR})")
    make_template()
    demo = Demo.load()
    failures: list[str] = []

    def attempt(name: str, fn: Any, *a: Any) -> Any:
        """A phase that fails is recorded as failed; the other phases still run."""
        try:
            return fn(*a)
        except Exception as e:
            log(f"{name} FAILED: {type(e).__name__}: {e}")
            failures.append(f"{name}: {type(e).__name__}: {str(e)[:300]}")
            return None

    rp = args.redis_pid
    if "issue" in phases:
        results["issue"] = [
            r for n in PROCESS_COUNTS if (r := attempt(f"issue {n}p", phase_issue, demo, n, rp))
        ]
    if "calls" in phases:
        results["calls"] = [
            r for n in PROCESS_COUNTS if (r := attempt(f"calls {n}p", phase_calls, demo, n, rp))
        ]
    if "latency" in phases:
        results["latency"] = [
            r
            for n in [int(x) for x in os.environ.get("BENCH_LATENCY_PROCESSES", "1,2").split(",")]
            if (r := attempt(f"latency {n}p", phase_latency, demo, n, rp))
        ]
    if "capacity" in phases:
        results["capacity"] = attempt("capacity", phase_capacity, demo, rp)
    if "floor" in phases:
        results["floor"] = attempt("floor", phase_floor, rp)
    if "instructions" in phases and shutil.which("valgrind"):
        results["instructions"] = attempt("instructions", phase_instructions, demo)
    if "cpu" in phases:
        results["cpu"] = attempt("cpu", phase_cpu, demo)
    if "pgbench" in phases and shutil.which("pgbench"):
        results["pgbench"] = attempt("pgbench", phase_pgbench)
    if "profile" in phases and (shutil.which(PY_SPY) or Path(PY_SPY).exists()):
        results["profiles"] = {
            load: p
            for load in ("issue", "calls")
            if (p := attempt(f"profile {load}", profile_under, load, demo, rp))
        }
    if "booking" in phases:
        results["booking"] = attempt("booking", booking_module().run, rp, attempt)
    if "notifications" in phases:
        results["notifications"] = attempt(
            "notifications", notifications_module().run, demo, rp, attempt
        )
    results["failures"] = failures
    admin_sql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    results["elapsed_s"] = time.monotonic() - started
    results["command"] = args.command
    (WORK / "results.json").write_text(json.dumps(results, indent=1, default=str))
    section = render(results, args.command)
    print("\n" + section)
    experiment = BENCH_DIR.parent.resolve() != GIT_DIR or SERVE_CMD
    if experiment and not args.write:
        log("an experiment (BENCH_APP_DIR or BENCH_SERVE_CMD): RESULTS.md left alone (--write)")
    elif not args.no_write:
        write_results(section)
        log(f"wrote {BENCH_DIR / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
