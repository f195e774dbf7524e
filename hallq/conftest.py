"""Shared test fixtures: the demo organisation, staff tokens, and a real ASGI server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.test import Client

from config.handlers import release_held_connections
from hallq.common import clock
from hallq.common.memo import forget_all
from hallq.halls.auth import staff_token_issue
from hallq.halls.demo import load_demo

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture(scope="session", autouse=True)
def close_connection_pools(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Close PostgreSQL connection pools before the test database is dropped."""
    yield
    with django_db_blocker.unblock():
        test_database = connection.settings_dict["NAME"]
        # The request threads of in-process ASGI applications keep theirs between requests.
        release_held_connections()
        for alias in connections:
            wrapper = connections[alias]
            if hasattr(wrapper, "close_pool"):
                wrapper.close_pool()
        if connection.vendor == "postgresql":
            wait_for_sessions_to_end(database_url(), test_database)


def wait_for_sessions_to_end(url: str, database: str, seconds: float = 10) -> None:
    """Server processes started by tests have exited, but PostgreSQL may take a moment to end
    their sessions; the test database can only be dropped once they are gone."""
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
            ).fetchone()
            if row is None or row[0] == 0:
                return
            time.sleep(0.1)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    # Database ids repeat from test to test; cached reads must not leak between them.
    cache.clear()
    forget_all()
    yield
    cache.clear()
    forget_all()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # Real hashing costs ~0.3 s per password by design; tests check logic, not hashing cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db: None, tmp_path: Path) -> dict[str, Any]:
    """The demo organisation of `make run`: 3 halls, 5 services each, staff and device tokens."""
    return load_demo(tmp_path / "demo-credentials.json")


@pytest.fixture
def staff_token(demo: dict[str, Any]) -> str:
    """A bearer token of a staff member of the first demo hall."""
    staff = demo["halls"][0]["staff"][0]
    return staff_token_issue(
        username=staff["username"], password=staff["password"], now=clock.now()
    )


@pytest.fixture
def client() -> Client:
    return Client()


def database_url() -> str:
    """The URL of the database this test run uses, for server processes started by tests."""
    values = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{values['NAME']}"
    host = values.get("HOST") or "127.0.0.1"
    port = values.get("PORT") or 5432
    user = values.get("USER") or "postgres"
    password = f":{values['PASSWORD']}" if values.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{values['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(
    log: Path, extra_env: dict[str, str] | None = None, arguments: tuple[str, ...] = ()
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "HALLQ_SECRET_KEY": settings.SECRET_KEY,
        "HALLQ_LOG_LEVEL": "warning",
        "HALLQ_SSE_KEEPALIVE_SECONDS": "1",
        "HALLQ_TEST_PASSWORD_HASHING": "fast",
        **(extra_env or {}),
    }
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "serve", "--port", str(port), *arguments],
        env=env,
        cwd=BASE_DIR,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_answering(process, f"{url}/healthz", log, "the server")
    return Server(url=url, process=process, log=log)


def wait_until_answering(
    process: subprocess.Popen[bytes], probe: str, log: Path, name: str
) -> None:
    """Wait (30 s at most) until a process just started answers 200 at ``probe``; kill it and
    fail with its output otherwise."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log.read_text()}")
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start:\n{log.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def asgi_server(transactional_db: None, tmp_path: Path) -> Iterator[Server]:
    """hallq served by uvicorn in its own process, on this test run's database."""
    server = start_server(tmp_path / "server.log")
    try:
        yield server
    finally:
        stop_server(server)
