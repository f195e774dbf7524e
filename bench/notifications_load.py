"""The notification benchmarks' three runs, each on a fresh copy of the template database with a
fresh stand-in:

  latency     counters call bound tickets at a steady rate; call-next → the stand-in accepted
              the call message, p50/p99 (target p99 ≤ 1 s), with the worker in the web process
              (`serve --with-worker`) and as its own `manage.py worker`
  throughput  20,000 pending messages to followers written straight into the outbox, then 1 and
              2 workers deliver them to the stand-in: messages/s (target ≥ 500/s), each once
  peak        1,000 bound tickets in one hall, 10 counters calling (call-next, a recall now and
              then, finish) for 60 s over HTTP with 2 workers delivering; every pre-call, call,
              recall and evaluation message exactly once, none missed
"""

from __future__ import annotations

import os
import time
from typing import Any

import notifications_profile
from hallq_bench import CpuMeter, Demo, PgSampler, Server, cpu_text, db, fresh_db, log
from notifications_counters import counters_call, setup_hall, setup_summary
from notifications_stack import (
    DRAIN_SECONDS,
    WECHAT_ENV,
    ProcessCpu,
    Sandbox,
    Workers,
    due_count,
    extra_cpu_text,
    forget_cached_wechat,
    merged_cpu,
    one,
    wait_drained,
)
from notifications_verify import call_latencies, verify_messages

LATENCY_MODES = os.environ.get("BENCH_NOTIFY_LATENCY_MODES", "inprocess,worker").split(",")
LATENCY_CALLS = int(os.environ.get("BENCH_NOTIFY_LATENCY_CALLS", "300"))
LATENCY_RATE = float(os.environ.get("BENCH_NOTIFY_LATENCY_RATE", "10"))
THROUGHPUT_MESSAGES = int(os.environ.get("BENCH_NOTIFY_MESSAGES", "20000"))
THROUGHPUT_WORKERS = [int(x) for x in os.environ.get("BENCH_NOTIFY_WORKERS", "1,2").split(",") if x]
THROUGHPUT_TIMEOUT = float(os.environ.get("BENCH_NOTIFY_THROUGHPUT_TIMEOUT", "300"))
PEAK_TICKETS = int(os.environ.get("BENCH_NOTIFY_PEAK_TICKETS", "1000"))
PEAK_SECONDS = float(os.environ.get("BENCH_NOTIFY_PEAK_SECONDS", "60"))
# Calls per second over all counters; by default the pace that calls the last ticket as the
# time runs out. 0: each counter calls again as soon as its previous answer is in.
PEAK_RATE = float(os.environ.get("BENCH_NOTIFY_PEAK_RATE", "") or PEAK_TICKETS / PEAK_SECONDS)
PEAK_WORKERS = int(os.environ.get("BENCH_NOTIFY_PEAK_WORKERS", "2"))
PEAK_RECALL_EVERY = int(os.environ.get("BENCH_NOTIFY_PEAK_RECALL_EVERY", "10"))
PROFILE = bool(os.environ.get("BENCH_NOTIFY_PROFILE")) and notifications_profile.available()
# The throughput run's profile: its first seconds (the worker starts delivering after ~1.5 s).
PROFILE_SECONDS = 12


# --- latency -------------------------------------------------------------------------------------


def phase_latency(demo: Demo, mode: str, redis_pid: int | None) -> dict[str, Any]:
    """``mode``: "inprocess" (`serve --with-worker`) or "worker" (a `manage.py worker`)."""
    fresh_db()
    forget_cached_wechat()
    tickets = LATENCY_CALLS + LATENCY_CALLS // 10 + 10
    name = f"notify-latency-{mode}"
    server_env = dict(WECHAT_ENV, HALLQ_INPROCESS_WORKER="1" if mode == "inprocess" else "0")
    with (
        Sandbox(tickets, f"{name}-standin") as sandbox,
        Server(1, True, name, **server_env) as server,
        Workers(1 if mode == "worker" else 0, name) as workers,
    ):
        counters, token, setup = setup_hall(demo, sandbox, tickets)
        with (
            CpuMeter(server, redis_pid) as meter,
            ProcessCpu(workers=workers, sandbox=sandbox) as extra,
        ):
            records, statuses = counters_call(
                counters, token, LATENCY_RATE, LATENCY_CALLS, LATENCY_CALLS / LATENCY_RATE + 30, 0
            )
            drained = wait_drained(DRAIN_SECONDS)
        messages, stats = sandbox.messages(), sandbox.stats()
    out: dict[str, Any] = {
        "mode": mode,
        "rate": LATENCY_RATE,
        "counters": len(counters),
        "statuses": statuses,
        "drained_after_s": drained,
        "latency": call_latencies(setup["tickets"], records, messages),
        "verify": verify_messages(setup["tickets"], messages, stats),
        "setup": setup_summary(setup),
        "cpu": merged_cpu(meter.report(), extra.report()),
    }
    lat = out["latency"]
    log(
        f"notifications latency ({mode}): {lat['measured']}/{lat['calls']} calls, call → "
        f"accepted p50 {lat['p50_ms']:.0f} ms p99 {lat['p99_ms']:.0f} ms max {lat['max_ms']:.0f} "
        f"ms; verify ok={out['verify']['ok']} | {cpu_text(out['cpu'])}, "
        f"{extra_cpu_text(out['cpu'])}"
    )
    return out


# --- throughput ----------------------------------------------------------------------------------


PREFILL = """
INSERT INTO notifications_notification (subject_type, subject_id, kind, occurrence, hall_id,
    openid, mobile, data, state, attempts, next_attempt_at, leased_until, lease_token,
    last_error, channel, created_at, sent_at)
SELECT 'ticket', g, 'call', 0, 1, 'o_bench_' || lpad(g::text, 6, '0'), '',
    jsonb_build_object('number', 'A' || lpad((g %% 1000)::text, 3, '0'), 'service', '综合业务',
        'counter', '3号窗口 综合业务',
        'url', %(public)s || '/t/' || g || '/?token=' || md5(g::text)),
    'pending', 0, now(), NULL, '', '', '', now(), NULL
FROM generate_series(1, %(n)s) AS g
"""
FOLLOWERS = """
INSERT INTO notifications_wechatfollower (openid, subscribed, subscribed_at)
SELECT 'o_bench_' || lpad(g::text, 6, '0'), true, now() FROM generate_series(1, %(n)s) AS g
"""


def prefill(count: int) -> None:
    """``count`` due call messages, each to another follower (setup, not what is measured)."""
    with db() as conn:
        params = {"n": count, "public": WECHAT_ENV["HALLQ_PUBLIC_URL"]}
        conn.execute(FOLLOWERS, params)
        conn.execute(PREFILL, params)
        conn.execute("ANALYZE notifications_notification")
        conn.execute("ANALYZE notifications_wechatfollower")


def delivered_figures() -> dict[str, Any]:
    """The outbox after a throughput run; delivery is timed from its first attempt's start to
    its last sent_at (both written by the workers, on this machine's clock)."""
    with db() as conn:
        sent, failed, due, retried, last_sent = one(
            conn,
            "SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state = "
            "'failed'), count(*) FILTER (WHERE state IN ('pending', 'sending')), "
            "count(*) FILTER (WHERE attempts > 1), max(sent_at) FROM notifications_notification",
        )
        first_try, attempts = one(
            conn, "SELECT min(started_at), count(*) FROM notifications_deliveryattempt"
        )
        ids = [r[0] for r in conn.execute("SELECT id FROM notifications_notification")]
    seconds = (last_sent - first_try).total_seconds() if last_sent and first_try else 0.0
    return {
        "sent": sent,
        "failed": failed,
        "left_due": due,
        "retried": retried,
        "attempts": attempts,
        "seconds": seconds,
        "rate": sent / seconds if seconds else 0.0,
        "ids": ids,
    }


def phase_throughput(workers_count: int, redis_pid: int | None) -> dict[str, Any]:
    fresh_db()
    forget_cached_wechat()
    prefill(THROUGHPUT_MESSAGES)
    name = f"notify-throughput-{workers_count}w"
    with Sandbox(THROUGHPUT_MESSAGES, f"{name}-standin") as sandbox:
        started = time.monotonic()
        # The meters stop before the workers do: a worker's CPU (and its database backend's)
        # is read from /proc while it runs. Their window includes the workers' start-up.
        with (
            Workers(workers_count, name, settle=0) as workers,
            CpuMeter(None, redis_pid) as meter,
            PgSampler() as pg,
            ProcessCpu(workers=workers, sandbox=sandbox) as extra,
        ):
            spy = None
            if PROFILE:
                tag = f"throughput-{workers_count}w"
                spy = notifications_profile.start(workers.procs[0].pid, PROFILE_SECONDS, tag)
            finished = -1.0
            while time.monotonic() - started < THROUGHPUT_TIMEOUT:
                if due_count() == 0:
                    finished = time.monotonic() - started
                    break
                time.sleep(0.2)
            if spy is not None:
                spy[0].wait(timeout=PROFILE_SECONDS + 30)
        messages, stats = sandbox.messages(), sandbox.stats()
    figures = delivered_figures()
    keys = [m["dedup_key"] for m in messages]
    expected = {f"hallq-{pk}" for pk in figures.pop("ids")}
    verify: dict[str, Any] = {
        "standin_messages": len(messages),
        "distinct_dedup_keys": len(set(keys)),
        "keys_match_outbox": set(keys) == expected,
        "standin_duplicates_ignored": stats.get("duplicates_ignored", 0),
        "standin_span_s": (messages[-1]["sent_at"] - messages[0]["sent_at"]) if messages else 0,
    }
    verify["ok"] = (
        figures["sent"] == THROUGHPUT_MESSAGES
        and len(messages) == THROUGHPUT_MESSAGES
        and verify["distinct_dedup_keys"] == THROUGHPUT_MESSAGES
        and verify["keys_match_outbox"]
    )
    out: dict[str, Any] = {
        "workers": workers_count,
        "messages": THROUGHPUT_MESSAGES,
        "wall_s_from_worker_start": finished,
        **figures,
        "verify": verify,
        "cpu": merged_cpu(meter.report(), extra.report()),
        "pg": pg.report(),
        "profile": notifications_profile.summarise(spy[1]) if spy is not None else {},
    }
    log(
        f"notifications throughput {workers_count} worker(s): {out['sent']} sent in "
        f"{out['seconds']:.1f} s = {out['rate']:.0f}/s; verify {verify} | "
        f"{cpu_text(out['cpu'])}, {extra_cpu_text(out['cpu'])}"
    )
    return out


# --- the hall at peak ----------------------------------------------------------------------------


def phase_peak(demo: Demo, redis_pid: int | None) -> dict[str, Any]:
    fresh_db()
    forget_cached_wechat()
    name = "notify-peak"
    with (
        Sandbox(PEAK_TICKETS, f"{name}-standin") as sandbox,
        Server(1, True, name, **WECHAT_ENV) as server,
        Workers(PEAK_WORKERS, name) as workers,
    ):
        counters, token, setup = setup_hall(demo, sandbox, PEAK_TICKETS)
        with (
            CpuMeter(server, redis_pid) as meter,
            PgSampler() as pg,
            ProcessCpu(workers=workers, sandbox=sandbox) as extra,
        ):
            started = time.monotonic()
            spy = None
            if PROFILE:
                spy = notifications_profile.start(workers.procs[0].pid, PEAK_SECONDS, "peak")
            records, statuses = counters_call(
                counters, token, PEAK_RATE, PEAK_TICKETS, PEAK_SECONDS, PEAK_RECALL_EVERY
            )
            calling_s = time.monotonic() - started
            drained = wait_drained(DRAIN_SECONDS)
            if spy is not None:
                spy[0].wait(timeout=PEAK_SECONDS + 30)
        messages, stats = sandbox.messages(), sandbox.stats()
    out: dict[str, Any] = {
        "tickets": PEAK_TICKETS,
        "seconds": PEAK_SECONDS,
        "rate": PEAK_RATE,
        "workers": PEAK_WORKERS,
        "counters": len(counters),
        "calling_s": calling_s,
        "calls": len(records),
        "statuses": statuses,
        "drained_after_s": drained,
        "latency": call_latencies(setup["tickets"], records, messages),
        "verify": verify_messages(setup["tickets"], messages, stats),
        "setup": setup_summary(setup),
        "cpu": merged_cpu(meter.report(), extra.report()),
        "pg": pg.report(),
        "profile": notifications_profile.summarise(spy[1]) if spy is not None else {},
    }
    v = out["verify"]
    log(
        f"notifications peak: {out['calls']} calls in {calling_s:.0f} s by {len(counters)} "
        f"counters, statuses {statuses}; messages {v['kinds']}; ok={v['ok']} | "
        f"{cpu_text(out['cpu'])}, {extra_cpu_text(out['cpu'])}"
    )
    return out
