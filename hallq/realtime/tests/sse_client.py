"""A minimal server-sent events reader for tests, over a real HTTP connection."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class ServerEvent:
    id: int | None
    event: str
    data: Any


class SseReader:
    """Reads an event stream in a background thread; ``next()`` waits for the next event."""

    def __init__(
        self, url: str, last_event_id: int | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.headers = {"Accept": "text/event-stream", **(headers or {})}
        if last_event_id is not None:
            self.headers["Last-Event-ID"] = str(last_event_id)
        self.response_headers: httpx.Headers | None = None
        self.events: queue.Queue[ServerEvent | Exception] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._connected.wait(10):
            raise TimeoutError(f"could not connect to {url}")

    def _run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30, read=60)) as client,
                client.stream("GET", self.url, headers=self.headers) as response,
            ):
                response.raise_for_status()
                self.response_headers = response.headers
                self._connected.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "data" in fields:
                            self.events.put(
                                ServerEvent(
                                    id=int(fields["id"]) if "id" in fields else None,
                                    event=fields.get("event", "message"),
                                    data=json.loads(fields["data"]),
                                )
                            )
                        fields = {}
                    elif not line.startswith(":") and ":" in line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except Exception as error:  # surfaced to the test by next()
            self._connected.set()
            if not self._stop.is_set():
                self.events.put(error)

    def next(self, timeout: float = 10) -> ServerEvent:
        item = self.events.get(timeout=timeout)
        if isinstance(item, Exception):
            raise item
        return item

    def until(self, kind: str, timeout: float = 10) -> list[ServerEvent]:
        """Every event up to and including the next one of ``kind``."""
        seen = []
        while True:
            event = self.next(timeout)
            seen.append(event)
            if event.event == kind:
                return seen

    def close(self) -> None:
        self._stop.set()
