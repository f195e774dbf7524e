"""A few seconds' memory, in this process, of rows that hot requests read every time.

Issuing a ticket or calling the next one would otherwise read the caller's token, the service
and the counter's services on every request, though they change a few times a day. A memo keeps
such answers for seconds (``Memo``, bounded in size): a change made by another
process is seen here within that time; a change made in this process forgets at once (the
owning app connects ``forget_all`` to the models' save and delete signals). Not Django's cache:
with Redis configured that is a network round trip, which is what a memo saves.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

V = TypeVar("V")
T = TypeVar("T")

_memos: list[Memo[object]] = []


class Memo(Generic[V]):
    """Answers of ``compute(key)`` remembered for ``seconds``; ``None`` is never remembered.

    An ordered dict of (deadline, answer), in the order written: a read is one ``get`` and a
    clock read, without a lock (CPython's dict operations are atomic), where
    ``cachetools.TTLCache`` took a lock, a timer context and its expiry walk on every read — a
    few percent of a call-next (bench/NOTES.md). Writes take the lock. Every answer of a memo
    lives as long, so the order written is the order of expiry: a write drops the expired
    from the front, then, past ``size``, the oldest written. ``clock`` is swappable (the
    instruction bench stops it)."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self.clock: Callable[[], float] = time.monotonic
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        _memos.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, compute: Callable[[], V | None]) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self.clock():
            return entry[1]
        value = compute()
        if value is not None:
            self._remember(key, value)
        return value

    def _remember(self, key: Hashable, value: V) -> None:
        now = self.clock()
        with self._lock:
            entries = self._entries
            entries[key] = (now + self.seconds, value)
            entries.move_to_end(key)
            while entries:
                oldest = next(iter(entries.values()))
                if oldest[0] > now and len(entries) <= self.size:
                    break
                entries.popitem(last=False)

    def remembered(self, key: Hashable, compute: Callable[[], V]) -> V:
        """``get`` for a ``compute`` that always answers (never None)."""
        value = self.get(key, compute)
        if value is None:
            raise TypeError(f"{compute!r} answered None for {key!r}")
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def unexpired(
    memo: Memo[tuple[T, datetime | None]],
    key: Hashable,
    compute: Callable[[], tuple[T, datetime | None] | None],
    now: datetime,
) -> T | None:
    """``memo.get`` for answers that end at a moment of their own (a token's expiry; None for
    never): one remembered past that moment is forgotten, not given."""
    entry = memo.get(key, compute)
    if entry is None:
        return None
    value, expires_at = entry
    if expires_at is not None and expires_at <= now:
        memo.forget(key)
        return None
    return value


def forget_all(*_args: object, **_kwargs: object) -> None:
    """Forget every memo of this process (a signal receiver: rows they remember changed)."""
    for memo in _memos:
        memo.clear()
