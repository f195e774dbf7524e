"""The account's access token and JS-SDK ticket, shared by every process and refreshed by one.

WeChat limits how often tokens may be fetched, and a forced refresh invalidates the token every
other process holds; so all processes read one shared copy (Redis when ``REDIS_URL`` is set,
else the ``AccessToken`` row) and whoever finds it missing, expiring or rejected refreshes it
under a lock, re-reading first: the others wait and take the new value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis
from django.conf import settings
from django.db import transaction

from hallq.common import clock
from hallq.wechat.errors import WeChatUnavailable
from hallq.wechat.models import AccessToken

# Refresh a little before WeChat's expiry, so no call is made with a token about to lapse.
REFRESH_MARGIN = timedelta(seconds=60)
# How long a process waits for another one's refresh (itself bounded by the HTTP timeout).
LOCK_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Credential:
    value: str
    expires_at: datetime

    def usable(self, now: datetime, *, rejected: str | None) -> bool:
        return (
            bool(self.value) and self.value != rejected and self.expires_at - now > REFRESH_MARGIN
        )


class CredentialStore(Protocol):
    def read(self, name: str) -> Credential | None: ...

    def locked(self, name: str) -> AbstractContextManager[None]: ...

    def write(self, name: str, credential: Credential) -> None: ...


class DatabaseStore:
    """The ``AccessToken`` rows; the refresh lock is the row's lock (SELECT … FOR UPDATE, or
    SQLite's write lock, which the IMMEDIATE transaction takes when it begins)."""

    def read(self, name: str) -> Credential | None:
        row = AccessToken.objects.filter(name=name).values_list("value", "expires_at").first()
        return None if row is None else Credential(value=row[0], expires_at=row[1])

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        with transaction.atomic():
            AccessToken.objects.bulk_create(
                [AccessToken(name=name, value="", expires_at=datetime.fromtimestamp(0, UTC))],
                ignore_conflicts=True,
            )
            AccessToken.objects.select_for_update().filter(name=name).get()
            yield

    def write(self, name: str, credential: Credential) -> None:
        AccessToken.objects.filter(name=name).update(
            value=credential.value, expires_at=credential.expires_at
        )


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


class RedisStore:
    """A Redis key per credential, expiring with it; the refresh lock is a Redis lock."""

    def __init__(self, url: str, prefix: str) -> None:
        self.redis = _redis_client(url)
        self.prefix = f"{prefix}:wechat"

    def read(self, name: str) -> Credential | None:
        raw = self.redis.get(f"{self.prefix}:{name}")
        if raw is None:
            return None
        data = json.loads(raw)
        return Credential(
            value=data["value"], expires_at=datetime.fromisoformat(data["expires_at"])
        )

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        lock = self.redis.lock(
            f"{self.prefix}:lock:{name}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS
        )
        if not lock.acquire():
            raise WeChatUnavailable("another process is refreshing the token for too long")
        try:
            yield
        finally:
            # The lock may have timed out under a very slow refresh; then it is no longer ours.
            if lock.owned():
                lock.release()

    def write(self, name: str, credential: Credential) -> None:
        seconds = int((credential.expires_at - clock.now()).total_seconds())
        value = json.dumps(
            {"value": credential.value, "expires_at": credential.expires_at.isoformat()}
        )
        self.redis.set(f"{self.prefix}:{name}", value, ex=max(seconds, 1))


def credential_store() -> CredentialStore:
    if settings.REDIS_URL:
        return RedisStore(settings.REDIS_URL, settings.HALLQ_REDIS_PREFIX)
    return DatabaseStore()


def shared_credential(
    store: CredentialStore,
    name: str,
    *,
    fetch: Callable[[str | None], Credential],
    rejected: str | None,
    now: datetime,
) -> str:
    """The current value of credential ``name``; refreshed with ``fetch(rejected)`` if it is
    missing, about to expire, or the value WeChat just ``rejected``.

    The process keeps the value it last saw until it nears expiry or WeChat rejects it: a
    stable token stays valid when another process renews it, so every send need not read the
    shared store (a database read per message would cap delivery well below its target).
    """
    key = (settings.WECHAT_API_BASE, settings.WECHAT_APP_ID, name)
    remembered = _seen.get(key)
    if remembered is not None and remembered.usable(now, rejected=rejected):
        return remembered.value
    current = store.read(name)
    if current is not None and current.usable(now, rejected=rejected):
        _seen[key] = current
        return current.value
    with store.locked(name):
        # Another process may have refreshed it while this one waited for the lock.
        current = store.read(name)
        if current is not None and current.usable(now, rejected=rejected):
            _seen[key] = current
            return current.value
        fresh = fetch(rejected)
        store.write(name, fresh)
        _seen[key] = fresh
        return fresh.value


# The credentials this process last saw, by (API base, app id, name).
_seen: dict[tuple[str, str, str], Credential] = {}


def forget_seen() -> None:
    """Drop what this process remembers (tests that restart the stand-in)."""
    _seen.clear()
