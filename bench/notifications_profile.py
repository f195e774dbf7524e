"""Optional (BENCH_NOTIFY_PROFILE=1): where a worker's time goes while the hall is at peak --
py-spy on the first worker, idle samples included (a thread waiting for PostgreSQL or WeChat is
"idle" to py-spy, but it is what delays a message), summarised per loop: the queue pushes
(events → notifications) and the delivery (outbox → WeChat)."""

from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path
from typing import Any

from hallq_bench import APP_DIR, PY_SPY, WORK, py_spy_record

LOOPS = {"pushes": "run_queue_pushes", "delivery": "run_delivery", "sends": "sender"}
# A loop's thread between rounds: not work.
RESTING = re.compile(r"^([\w.]*\.)?(wait|_wait_for_tstate_lock) \(threading\.py")


def available() -> bool:
    return Path(PY_SPY).exists()


def start(pid: int, seconds: float, tag: str) -> tuple[subprocess.Popen[bytes], Path]:
    raw = WORK / f"profile-notify-{tag}-worker.txt"
    return py_spy_record(pid, raw, seconds, rate=200, gil=False), raw


def _function(frame: str) -> str:
    """ "_send_all.<locals>.sender (hallq/…)" → "sender"."""
    return frame.split(" (", 1)[0].rsplit(".", 1)[-1]


def _frames(stack: str) -> list[str]:
    frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
    return [
        f.replace(str(APP_DIR) + "/", "").replace(".venv/lib/python3.11/site-packages/", "")
        for f in frames
    ]


def summarise(raw: Path, top: int = 12) -> dict[str, Any]:
    """Per loop: samples in all, busy (not resting between rounds), and the app frames and
    leaves that the busy samples spend their time in (% of the loop's busy samples)."""
    loops: dict[str, dict[str, Any]] = {}
    for name in LOOPS:
        loops[name] = {
            "samples": 0,
            "busy": 0,
            "app": collections.Counter(),
            "leaf": collections.Counter(),
        }
    if not raw.exists():
        return {}
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        frames = _frames(stack)
        functions = {_function(f) for f in frames}
        found = next((k for k, fn in LOOPS.items() if fn in functions), None)
        if found is None:
            continue
        loop = loops[found]
        loop["samples"] += count
        app_frames = [f for f in frames if "hallq/" in f]
        if RESTING.match(frames[-1]) and app_frames and _function(app_frames[-1]) == LOOPS[found]:
            continue  # the loop's own wait for the next round
        loop["busy"] += count
        loop["leaf"][frames[-1]] += count
        for frame in set(app_frames):
            loop["app"][frame] += count
    out = {}
    for name, loop in loops.items():
        busy = max(loop["busy"], 1)
        out[name] = {
            "samples": loop["samples"],
            "busy_pct": round(100 * loop["busy"] / max(loop["samples"], 1), 1),
            "app": [(f, round(100 * c / busy, 1)) for f, c in loop["app"].most_common(top)],
            "leaf": [(f, round(100 * c / busy, 1)) for f, c in loop["leaf"].most_common(6)],
        }
    return out
