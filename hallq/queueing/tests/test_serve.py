"""`manage.py serve --processes N`: each web process accepts on its own socket, and one that
crashes is started again."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Sized
from operator import not_
from pathlib import Path
from typing import TypeVar

import httpx

from hallq.common.testing import redis_url
from hallq.conftest import start_server, stop_server

T = TypeVar("T")


def web_processes(parent: int) -> list[int]:
    """The serving children of the server process (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def listening_sockets(port: int) -> set[str]:
    """Inodes of the sockets listening on 127.0.0.1:port (/proc/net/tcp, state 0A)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inodes.add(fields[9])
    return inodes


def sockets_of(pid: int) -> set[str]:
    owned = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            owned.add(target[len("socket:[") : -1])
    return owned


def wait_for(read: Callable[[], T], accept: Callable[[T], bool], seconds: float = 30.0) -> T:
    """What ``read`` gives once ``accept`` takes it (polled for ``seconds`` at most)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = read()
        if accept(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"still {value!r} after {seconds} s")


def test_each_web_process_listens_on_its_own_socket_and_a_crashed_one_comes_back(
    transactional_db, tmp_path: Path
):
    env = {"REDIS_URL": redis_url(), "HALLQ_REDIS_PREFIX": f"test-{uuid.uuid4().hex}"}
    server = start_server(tmp_path / "server.log", env, ("--processes", "2"))
    port = int(server.url.rsplit(":", 1)[1])

    def children() -> list[int]:
        return web_processes(server.process.pid)

    def two(values: Sized) -> bool:
        return len(values) == 2

    try:
        first = wait_for(children, two)
        listening = wait_for(lambda: listening_sockets(port), two)
        # Two listening sockets on one port, one in each process: the kernel spreads new
        # connections between them, instead of the idlest process taking them all.
        assert [len(sockets_of(pid) & listening) for pid in first] == [1, 1]

        os.kill(first[0], signal.SIGKILL)

        again = wait_for(children, lambda found: two(found) and first[0] not in found)
        assert first[1] in again
        wait_for(lambda: listening_sockets(port), two)
        for _ in range(10):
            with httpx.Client() as fresh:  # a new connection each time
                assert fresh.get(f"{server.url}/healthz", timeout=5).status_code == 200
    finally:
        stop_server(server)
    assert server.process.returncode == 0
    wait_for(lambda: [pid for pid in again if Path(f"/proc/{pid}").exists()], not_, seconds=10)
