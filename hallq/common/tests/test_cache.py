"""The Redis cache: Django's, answering the same, with one Redis client per connection pool."""

from __future__ import annotations

import threading
import uuid

from hallq.common.cache import RedisCache
from hallq.common.testing import redis_url


def a_cache() -> RedisCache:
    return RedisCache(redis_url(), {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})


def test_values_are_kept_changed_and_forgotten_in_redis():
    cache = a_cache()
    assert cache.get("rules:1") is None
    cache.set("rules:1", {"days": [1, 2]}, 30)
    assert cache.get("rules:1") == {"days": [1, 2]}
    assert a_cache().get("rules:1") is None  # another prefix: another deployment
    cache.set("rules:1", {"days": [3]}, 30)
    assert cache.get("rules:1") == {"days": [3]}
    cache.delete("rules:1")
    assert cache.get("rules:1") is None


def test_every_call_and_thread_uses_the_one_client_of_the_pool():
    cache = a_cache()
    cache.set("k", 1, 30)
    clients = set()

    def use() -> None:
        for _ in range(50):
            assert cache.get("k") == 1
            clients.add(id(cache._cache.get_client("k")))

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 1
    assert cache._cache.get_client("k", write=True) is cache._cache.get_client("k")
