"""A few seconds' memory, in this process, of rows that hot requests read every time.

Issuing a ticket or calling the next one would otherwise read the caller's token, the service
and the counter's services on every request, though they change a few times a day. A memo keeps
such answers for seconds (``cachetools.TTLCache``, bounded in size): a change made by another
process is seen here within that time; a change made in this process forgets at once (the
owning app connects ``forget_all`` to the models' save and delete signals). Not Django's cache:
with Redis configured that is a network round trip, which is what a memo saves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from cachetools import TTLCache

V = TypeVar("V")
T = TypeVar("T")

_memos: list[Memo[object]] = []


class Memo(Generic[V]):
    """Answers of ``compute(key)`` remembered for ``seconds``; ``None`` is never remembered."""

    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self._entries: TTLCache[Hashable, V] = TTLCache(maxsize=size, ttl=seconds)
        self._lock = threading.Lock()
        _memos.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, compute: Callable[[], V | None]) -> V | None:
        with self._lock:
            value = self._entries.get(key)
        if value is not None:
            return value
        value = compute()
        if value is not None:
            with self._lock:
                self._entries[key] = value
        return value

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
