from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand

from hallq.common.worker import run_forever, start_loops

APPLICATION = "config.asgi:application"


def _config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        APPLICATION,
        host=host,
        port=port,
        log_level=os.environ.get("HALLQ_LOG_LEVEL", "info").lower(),
        access_log=False,
        timeout_graceful_shutdown=3,
        lifespan="off",
    )


def _own_socket(host: str, port: int) -> socket.socket:
    """A listening socket of this process's own on a port other processes listen on too
    (SO_REUSEPORT): the kernel spreads new connections evenly among them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _serve_one(host: str, port: int) -> None:
    uvicorn.Server(_config(host, port)).run(sockets=[_own_socket(host, port)])


def _serve_processes(host: str, port: int, processes: int) -> None:
    """Several web processes, each accepting on its own socket.

    uvicorn's own workers accept from one shared socket: whichever process is idle when a
    client connects takes the connection for its whole keep-alive life, and under load one
    process ends up with most of them (31 of 50 against 19, bench/NOTES.md) and with the
    longest queue. A process that exits is started again.
    """
    spawn = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        child = spawn.Process(target=_serve_one, args=(host, port), name="hallq-web")
        child.start()
        return child

    def stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def crashed(child: multiprocessing.process.BaseProcess) -> bool:
        # Stopped by a signal to the whole group (a service manager's stop) is not a crash.
        return not child.is_alive() and child.exitcode not in (0, -signal.SIGTERM, -signal.SIGINT)

    children = [start() for _ in range(processes)]
    try:
        while not stopping.wait(0.5):
            children = [start() if crashed(child) else child for child in children]
            if not any(child.is_alive() for child in children):
                break
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()  # uvicorn shuts down gracefully on SIGTERM
        deadline = time.monotonic() + 5
        for child in children:
            child.join(max(0.0, deadline - time.monotonic()))
            if child.is_alive():
                child.kill()


class Command(BaseCommand):
    help = (
        "Serve hallq over ASGI (uvicorn). HOST, PORT and HALLQ_WEB_PROCESSES from the environment."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--processes", type=int, default=int(os.environ.get("HALLQ_WEB_PROCESSES", "1"))
        )
        parser.add_argument(
            "--with-worker",
            action="store_true",
            default=settings.HALLQ_INPROCESS_WORKER,
            help="also run the background worker in this process (one-machine setups)",
        )

    def handle(
        self, *args: Any, host: str, port: int, processes: int, with_worker: bool, **options: Any
    ) -> None:
        if processes > 1 and not settings.REDIS_URL:
            self.stderr.write("Several web processes need REDIS_URL for event fan-out.")
            raise SystemExit(2)
        stop = threading.Event()
        if with_worker:
            threading.Thread(target=run_forever, args=(stop,), daemon=True, name="worker").start()
            start_loops(stop)
        try:
            if processes > 1:
                _serve_processes(host, port, processes)
            else:
                uvicorn.Server(_config(host, port)).run()
        finally:
            stop.set()
