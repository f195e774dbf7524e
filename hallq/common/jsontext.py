"""JSON text for what hallq writes on every request: the API's answers, events' bodies and the
values given to PostgreSQL as ``jsonb``. orjson (a C library, well kept) writes them several
times faster than the standard library's encoder, ~5 % of a counter's request
(bench/NOTES.md). The text is compact and UTF-8 as written (not ``\\u`` escapes), as the event
stream always wrote it; the API's answers say ``charset=utf-8``."""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # as the standard library: {1: …} is {"1": …}


def dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, for JSON's own
    types (dictionaries, lists, strings, numbers, booleans, None)."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def dumps_bytes(value: Any, default: Any = None) -> bytes:
    """The UTF-8 bytes of ``dumps``; dates and times, and any type orjson does not know, are
    turned into JSON by ``default`` (as the standard library's ``JSONEncoder.default``)."""
    return orjson.dumps(value, default=default, option=_OPTIONS | orjson.OPT_PASSTHROUGH_DATETIME)
