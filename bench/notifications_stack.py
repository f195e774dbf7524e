"""What the notification benchmarks run besides the web server: the WeChat stand-in (with a
WeChat user per ticket), `manage.py worker` processes, and the hall's bound tickets -- issued at
the kiosk, their WeChat QR code asked for, and scanned at the stand-in, which sends the SCAN
event to hallq's callback (the path a citizen's ticket takes; setup, not what is measured)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis
from hallq_bench import (
    _LIVE_GROUPS,
    APP_DIR,
    BENCH_DIR,
    DB,
    HOST,
    PORT,
    PYTHON,
    REDIS_URL,
    WORK,
    Demo,
    app_env,
    db,
    http,
    proc_cpu,
    tree,
)

SANDBOX_PORT = int(os.environ.get("BENCH_SANDBOX_PORT", "18290"))
SANDBOX_URL = f"http://{HOST}:{SANDBOX_PORT}"
# The stand-in's own account (hallq/wechat/README.md); hallq points at it as `make run` does.
WECHAT_ENV = {
    "HALLQ_WECHAT_APP_ID": "wx5a4d000000sandbox",
    "HALLQ_WECHAT_APP_SECRET": "sandbox-app-secret",
    "HALLQ_WECHAT_TOKEN": "sandbox-token",
    "HALLQ_WECHAT_API_BASE": SANDBOX_URL,
    "HALLQ_WECHAT_OAUTH_BASE": SANDBOX_URL,
    # Messages carry the ticket page's link, as in production.
    "HALLQ_PUBLIC_URL": f"http://{HOST}:{PORT}",
    # Every bench user follows the account: no SMS is due, and none may leave the machine.
    "HALLQ_SMS_BACKEND": "hallq.common.sms.LocMemBackend",
}
BIND_THREADS = 8
# How long the last messages may take after the calls stop before they count as missed.
DRAIN_SECONDS = 60.0
# The hall whose counters call: its first COUNTERS counters (hall 1 of the demo has 12).
HALL = 1
COUNTERS = 10


def openid(index: int) -> str:
    """The bench's WeChat user number ``index`` (as bench/notifications_sandbox.py names them)."""
    return f"o_bench_{index:06d}"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL what is left after 10 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    _LIVE_GROUPS.discard(proc.pid)


def _spawn(command: list[str], logname: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    logfile = open(WORK / logname, "ab")  # noqa: SIM115 - the child writes it until it ends
    proc = subprocess.Popen(
        command,
        cwd=APP_DIR,
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    logfile.close()
    _LIVE_GROUPS.add(proc.pid)
    return proc


class Sandbox:
    """The stand-in on SANDBOX_PORT with ``users`` bench users, its events going to the bench
    server's callback; a fresh one (empty message log) for every run."""

    def __init__(self, users: int, name: str) -> None:
        self.users = users
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sandbox:
        if not _port_free(SANDBOX_PORT):
            raise SystemExit(f"port {SANDBOX_PORT} is taken: set BENCH_SANDBOX_PORT")
        command = [
            PYTHON,
            str(BENCH_DIR / "notifications_sandbox.py"),
            "--host",
            HOST,
            "--port",
            str(SANDBOX_PORT),
            "--callback-url",
            f"http://{HOST}:{PORT}/wechat/callback",
            "--users",
            str(self.users),
        ]
        self.proc = _spawn(command, f"{self.name}.log", app_env(DB, False, **WECHAT_ENV))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the stand-in exited: see {WORK / (self.name + '.log')}")
            with contextlib.suppress(OSError):
                self.stats()
                return self
            time.sleep(0.2)
        raise SystemExit("the stand-in did not come up within 60 s")

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            _stop_group(self.proc)

    def pids(self) -> list[int]:
        return tree(self.proc.pid) if self.proc else []

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        # The stand-in's own http:// address only.
        request = urllib.request.Request(f"{SANDBOX_URL}{path}", data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read() or b"null")

    def stats(self) -> dict[str, int]:
        return self.call("GET", "/sandbox/stats")

    def messages(self) -> list[dict[str, Any]]:
        """Every message the stand-in accepted, oldest first (with its accept time, sent_at)."""
        return self.call("GET", "/sandbox/messages")["messages"]


def forget_cached_wechat() -> None:
    """Every run has a fresh database (ticket ids start at 1 again) and a fresh stand-in, but
    the bench's Redis outlives runs: hallq's cached QR codes (by ticket id: a new ticket 1 would
    get the code of the last run's, unknown to this stand-in) and its access token would belong
    to the previous stand-in. Dropped before each run."""
    client = redis.Redis.from_url(REDIS_URL)
    for pattern in ("*:ticket-wechat-qr:*", "*:wechat:*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)
    client.close()


class Workers:
    """``count`` `manage.py worker` processes (notification delivery and the queue pushes).
    Unless ``settle`` is 0, waits that long for them to start (Django takes ~1-2 s)."""

    def __init__(self, count: int, name: str, settle: float = 2.5) -> None:
        self.count = count
        self.name = name
        self.settle = settle
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Workers:
        env = app_env(DB, True, **WECHAT_ENV)
        for k in range(self.count):
            self.procs.append(
                _spawn([PYTHON, "manage.py", "worker"], f"{self.name}-worker{k + 1}.log", env)
            )
        time.sleep(self.settle if self.procs else 0)
        for proc in self.procs:
            if proc.poll() is not None:
                raise SystemExit(f"a worker exited: see {WORK / (self.name + '-worker1.log')}")
        return self

    def __exit__(self, *exc: Any) -> None:
        for proc in self.procs:
            _stop_group(proc)

    def pids(self) -> list[int]:
        return [pid for proc in self.procs for pid in tree(proc.pid)]


class ProcessCpu:
    """CPU seconds of named groups of processes over a window, in % of one core."""

    def __init__(self, **groups: Any) -> None:
        self.groups = groups  # name -> an object with pids()

    def _sample(self) -> dict[str, float]:
        return {name: sum(proc_cpu(p) for p in g.pids()) for name, g in self.groups.items()}

    def __enter__(self) -> ProcessCpu:
        self.start, self.t0 = self._sample(), time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.end, self.t1 = self._sample(), time.monotonic()

    def report(self) -> dict[str, float]:
        wall = self.t1 - self.t0
        return {
            f"{name}_pct": 100 * (self.end[name] - self.start.get(name, 0.0)) / wall
            for name in self.end
        }


def merged_cpu(cpu: dict[str, float], extra: dict[str, float]) -> dict[str, float]:
    """CpuMeter's report with the stand-in's and the workers' share taken out of "other"."""
    out = dict(cpu)
    out.update(extra)
    out["other_pct"] = max(0.0, cpu["other_pct"] - sum(extra.values()))
    return out


def extra_cpu_text(c: dict[str, float]) -> str:
    parts = []
    if "workers_pct" in c:
        parts.append(f"workers {c['workers_pct']:.0f}%")
    if "sandbox_pct" in c:
        parts.append(f"stand-in {c['sandbox_pct']:.0f}%")
    return ", ".join(parts)


# --- the hall's tickets ------------------------------------------------------------------------


def counter_plan(demo: Demo) -> tuple[list[int], dict[int, int]]:
    """The calling counters (the hall's first COUNTERS) and how many of them have each service
    first: tickets are issued in that proportion, so that every counter has its own work."""
    counters = demo.counters[HALL][:COUNTERS]
    weights: Counter[int] = Counter()
    with db() as conn:
        for (service_id,) in conn.execute(
            "SELECT DISTINCT ON (counter_id) service_id FROM halls_counterservice "
            "WHERE counter_id = ANY(%s) ORDER BY counter_id, priority, id",
            (counters,),
        ):
            weights[service_id] += 1
    return counters, dict(weights)


def services_for(tickets: int, weights: dict[int, int]) -> list[int]:
    """``tickets`` service ids in the weights' proportions, interleaved as arrivals would be."""
    total = sum(weights.values())
    shares = {sid: tickets * w // total for sid, w in weights.items()}
    for sid in sorted(weights, key=lambda s: -weights[s])[: tickets - sum(shares.values())]:
        shares[sid] += 1
    order: list[int] = []
    left = dict(shares)
    while left:
        for sid in list(left):
            order.append(sid)
            left[sid] -= 1
            if not left[sid]:
                del left[sid]
    return order


@dataclass(frozen=True, slots=True)
class BoundTicket:
    id: int
    number: str
    service_id: int
    openid: str
    qr_kind: str
    scan_status: int
    reply: str


def _issue_and_bind(kiosk_token: str, service_id: int, user: str, sandbox: Sandbox) -> BoundTicket:
    status, ticket = http(
        "POST",
        f"/api/v1/halls/{HALL}/tickets",
        kiosk_token,
        {"service_id": service_id, "channel": "kiosk"},
    )
    if status != 201:
        raise RuntimeError(f"ticket issue answered {status}: {ticket}")
    status, qr = http("GET", f"/api/v1/tickets/{ticket['id']}/wechat-qr?token={ticket['token']}")
    if status != 200:
        raise RuntimeError(f"wechat-qr answered {status}: {qr}")
    scan: dict[str, Any] = {"status": 0, "reply": ""}
    if qr["kind"] == "wechat":
        qr_ticket = qr["url"].rsplit("/q/", 1)[1]
        scan = sandbox.call("POST", "/sandbox/scan", {"openid": user, "ticket": qr_ticket})
        if "error" in scan:
            raise RuntimeError(f"the stand-in refused the scan of ticket {ticket['id']}: {scan}")
    return BoundTicket(
        id=ticket["id"],
        number=ticket["number"],
        service_id=service_id,
        openid=user,
        qr_kind=qr["kind"],
        scan_status=int(scan.get("status") or 0),
        reply=str(scan.get("reply") or ""),
    )


def issue_and_bind(
    demo: Demo, sandbox: Sandbox, service_ids: list[int], first_user: int = 1
) -> dict[str, Any]:
    """Issue a ticket per service id at the hall's kiosk and bind each to its own WeChat user
    by scanning its QR code at the stand-in; BIND_THREADS tickets at a time."""
    kiosk_token = demo.hall(HALL)["kiosk_token"]
    started = time.monotonic()
    with ThreadPoolExecutor(BIND_THREADS) as pool:
        bound = list(
            pool.map(
                lambda job: _issue_and_bind(kiosk_token, job[1], openid(job[0]), sandbox),
                enumerate(service_ids, start=first_user),
            )
        )
    seconds = time.monotonic() - started
    with db() as conn:
        owners: dict[int, str] = dict(
            conn.execute(
                "SELECT id, owner_openid FROM queueing_ticket WHERE id = ANY(%s)",
                ([t.id for t in bound],),
            ).fetchall()
        )
    bound_in_db = sum(1 for t in bound if owners.get(t.id) == t.openid)
    replies_naming_the_ticket = sum(1 for t in bound if t.number in t.reply)
    return {
        "tickets": bound,
        "seconds": seconds,
        "rate": len(bound) / seconds if seconds else 0.0,
        "qr_kinds": dict(Counter(t.qr_kind for t in bound)),
        "scan_statuses": dict(Counter(t.scan_status for t in bound)),
        "bound_in_db": bound_in_db,
        "replies_naming_the_ticket": replies_naming_the_ticket,
    }


# --- the outbox --------------------------------------------------------------------------------


def one(conn: Any, query: str, params: Any = None) -> tuple[Any, ...]:
    """The one row a query answers."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return tuple(row)


def due_count() -> int:
    with db() as conn:
        return int(
            one(
                conn,
                "SELECT count(*) FROM notifications_notification "
                "WHERE state IN ('pending', 'sending')",
            )[0]
        )


def outbox_state() -> tuple[int, bool]:
    """(notifications still due, whether the queue pushes have read every hall's whole log)."""
    with db() as conn:
        (behind,) = one(
            conn,
            "SELECT count(*) FROM realtime_halleventcounter c "
            "LEFT JOIN officialaccount_pushcursor p USING (hall_id) "
            "WHERE c.last_seq > coalesce(p.last_seq, 0)",
        )
    return due_count(), behind == 0


def wait_drained(timeout: float, settle: float = 1.0) -> float:
    """Wait until every event was read by the pushes and no notification is due (seen twice,
    ``settle`` apart); returns the seconds waited, or -1 when ``timeout`` passed first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        due, caught_up = outbox_state()
        if due == 0 and caught_up:
            time.sleep(settle)
            due, caught_up = outbox_state()
            if due == 0 and caught_up:
                return time.monotonic() - started - settle
        time.sleep(0.2)
    return -1.0
