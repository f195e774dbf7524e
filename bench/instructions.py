"""Instructions per request, counted by valgrind's callgrind: the machine's speed left out.

This machine kind's speed varies by a factor of two to four between sessions and by 10-20 %
within one (bench/NOTES.md), so a change worth a few percent of CPU cannot be seen in a
throughput figure. An instruction count can: the same code on the same data executes nearly the
same instructions on a fast machine and a slow one, loaded or not (±2 % between runs here).

Run by ``hallq_bench.py``'s ``instructions`` phase, under
``valgrind --tool=callgrind --instr-atstart=no``, in the app's directory with the bench's
environment (its database, with waiting tickets already issued). It drives the ASGI application
in this process, without sockets: ``SyncChainASGIHandler`` and its request thread, Django's
middleware, django-ninja, the services, psycopg and the Redis sender — everything but uvicorn's
HTTP parsing and the kernel. Instrumentation is switched on (``callgrind_control -i on``) only
around the measured requests, after warm-up ones; the phase divides the total by their number.
The process's memos keep what the warm-up remembered (``memos_as_at_full_load``): under valgrind
a request takes ~50 times as long, and their expiry by time made the count depend on the
machine's speed.

Loads: ``calls`` (a call-next, which finishes the ticket being served, and its start) and
``issue`` (a kiosk ticket), run by ``hallq_bench.py``'s phase; ``book`` (a citizen books a place
of a slot with room, each request another citizen) and ``full`` (a hot slot's quota booked
first, then each request another citizen told "full"), run by the booking part
``instructions`` (bench/booking_profile.py) on the booking bench's database.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=OUT \
        python bench/instructions.py --load calls --count 100 --warm 30 --credentials FILE

With ``--measure cpu`` (the ``cpu`` phase) it runs without valgrind and prints, as one JSON
line, the CPU this process and PostgreSQL spent per measured request: where a call pair's CPU
goes between the two, with no lock waits or scheduling in the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.getcwd())  # the app tree the bench runs (not the venv's editable install)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.asgi import application


async def request(
    method: str, path: str, token: str | None = None, body: bytes = b""
) -> tuple[int, bytes]:
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    received = False
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never goes away
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await application(scope, receive, send)
    return answer["status"], answer["body"]


async def expect(status: int, method: str, path: str, token: str | None, body: bytes = b"") -> None:
    got, answer = await request(method, path, token, body)
    if got != status:
        raise SystemExit(f"{method} {path}: {got} {answer[:300]!r}")


async def staff_tokens(credentials: dict[str, Any]) -> dict[int, str]:
    tokens = {}
    for hall in credentials["halls"]:
        body = json.dumps(hall["staff"][0]).encode()
        status, answer = await request("POST", "/api/v1/auth/token", body=body)
        if status != 200:
            raise SystemExit(f"sign-in: {status} {answer[:300]!r}")
        tokens[hall["id"]] = json.loads(answer)["token"]
    return tokens


async def calls(
    credentials: dict[str, Any], counters: list[tuple[int, int]]
) -> Callable[[], Awaitable[None]]:
    """One call-next (which finishes the ticket being served) and its start, counter after
    counter: the call-next bench's loop."""
    tokens = await staff_tokens(credentials)
    plan = [(counter, tokens[hall]) for hall, counter in counters]
    for counter, token in plan:
        await expect(200, "POST", f"/api/v1/counters/{counter}/open", token)
    turn = 0

    async def one() -> None:
        nonlocal turn
        counter, token = plan[turn % len(plan)]
        turn += 1
        await expect(200, "POST", f"/api/v1/counters/{counter}/call-next", token)
        await expect(200, "POST", f"/api/v1/counters/{counter}/start", token)

    return one


async def issue(
    credentials: dict[str, Any], services: list[tuple[int, int]]
) -> Callable[[], Awaitable[None]]:
    """One kiosk ticket, service after service: the issue bench's request."""
    kiosks = {hall["id"]: hall["kiosk_token"] for hall in credentials["halls"]}
    turn = 0

    async def one() -> None:
        nonlocal turn
        hall, service = services[turn % len(services)]
        turn += 1
        body = json.dumps({"service_id": service, "channel": "kiosk"}).encode()
        await expect(201, "POST", f"/api/v1/halls/{hall}/tickets", kiosks[hall], body)

    return one


async def bookings(
    tokens: list[str], slot: int, status: int, first: int = 0
) -> Callable[[], Awaitable[None]]:
    """One booking of ``slot`` by the next citizen (their tokens in order), expecting
    ``status``: 201 for a slot with room, 409 ("full") for a slot whose places are all taken."""
    turn = first
    body = json.dumps({"slot_id": slot}).encode()

    async def one() -> None:
        nonlocal turn
        token = tokens[turn]
        turn += 1
        await expect(status, "POST", "/api/v1/appointments", token, body)

    return one


def memos_as_at_full_load() -> None:
    """Give the process's memos (hallq.common.memo) a clock that stands still, so that what the
    warm-up remembered stays remembered. In service at hundreds of requests a second a 2-second
    memo of a counter's services is read again once in ~30 of its calls; under valgrind, where a
    request takes ~50 times as long, it expired before nearly every one, and the count depended
    on how fast the machine ran (a tree measured 10.1 M and 11.3 M per call pair in one
    session). Forgetting on a change still happens; nothing expires by time."""
    from django.urls import get_resolver

    from hallq.common import memo

    get_resolver().url_patterns  # noqa: B018 - imports every view module, and their memos
    for each in memo._memos:
        each.clock = lambda: 0.0


def instrumentation(on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
        check=True,
        capture_output=True,
    )


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process on the machine so far (backends, WAL
    writer, checkpointer, autovacuum), as the HTTP phases' ``CpuMeter`` reads it."""
    from hallq_bench import proc_cpu, procs_matching  # bench/, beside this file

    return sum(proc_cpu(pid) for pid in procs_matching(lambda comm, _cmd: comm == "postgres"))


class CpuClock:
    """``--measure cpu``: this process's CPU (every thread: the request threads, the event loop,
    the Redis sender) and the database's over the measured requests, instead of callgrind's
    instructions. Unlike an instruction count it moves with the machine's speed, so compare
    two trees minutes apart on one machine; unlike a throughput figure it is not blurred by
    lock waits, scheduling or the load generator: the requests run one at a time."""

    def __init__(self) -> None:
        self.started = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self.started = (time.process_time(), postgres_cpu_seconds(), time.monotonic())

    def stop(self, count: int) -> dict[str, float]:
        python, postgres, wall = self.started
        return {
            "count": count,
            "python_cpu_us": (time.process_time() - python) / count * 1e6,
            "postgres_cpu_us": (postgres_cpu_seconds() - postgres) / count * 1e6,
            "wall_us": (time.monotonic() - wall) / count * 1e6,
        }


async def main(arguments: argparse.Namespace) -> None:
    memos_as_at_full_load()
    if arguments.load == "book":
        tokens = Path(arguments.tokens).read_text().split()
        one = await bookings(tokens, arguments.slot, 201)
    elif arguments.load == "full":
        tokens = Path(arguments.tokens).read_text().split()
        fill = await bookings(tokens, arguments.slot, 201)
        for _ in range(arguments.quota):
            await fill()
        one = await bookings(tokens, arguments.slot, 409, first=arguments.quota)
    else:
        credentials = json.loads(Path(arguments.credentials).read_text())
        pairs = [tuple(map(int, item.split(":"))) for item in arguments.ids.split(",")]
        make = calls if arguments.load == "calls" else issue
        one = await make(credentials, pairs)  # type: ignore[arg-type]
    for _ in range(arguments.warm):
        await one()
    if arguments.measure == "cpu":
        clock = CpuClock()
        clock.start()
        for _ in range(arguments.count):
            await one()
        print(json.dumps(clock.stop(arguments.count)), flush=True)
        return
    instrumentation(True)
    for _ in range(arguments.count):
        await one()
    instrumentation(False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", choices=["calls", "issue", "book", "full"], required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument(
        "--measure",
        choices=["instructions", "cpu"],
        default="instructions",
        help="instructions: under callgrind; cpu: Python's and PostgreSQL's CPU per request",
    )
    parser.add_argument("--warm", type=int, required=True)
    parser.add_argument("--credentials", help="calls, issue: the demo's credentials file")
    parser.add_argument("--ids", help="calls: hall:counter, issue: hall:service, comma-separated")
    parser.add_argument("--tokens", help="book, full: citizens' tokens, one a line")
    parser.add_argument("--slot", type=int, help="book, full: the slot asked for")
    parser.add_argument("--quota", type=int, default=0, help="full: the slot's places")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(parser.parse_args()))
    os._exit(0)  # the Redis sender and the request threads are daemons; skip their teardown
