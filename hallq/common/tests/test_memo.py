"""The process's memos (hallq/common/memo.py): remembered for their seconds, bounded in size,
forgotten on demand, safe from many threads."""

from __future__ import annotations

import functools
import threading

from hallq.common.memo import Memo


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def memo_with_clock(seconds: float, size: int = 10_000) -> tuple[Memo[str], Clock]:
    memo: Memo[str] = Memo(seconds, size=size)
    clock = Clock()
    memo.clock = clock
    return memo, clock


def test_an_answer_is_remembered_for_its_seconds_and_read_again_after():
    memo, clock = memo_with_clock(2)
    computed: list[str] = []

    def compute() -> str:
        computed.append("read")
        return f"answer {len(computed)}"

    first = memo.get("key", compute)
    clock.now += 1.9
    second = memo.get("key", compute)
    clock.now += 0.1
    third = memo.get("key", compute)

    assert (first, second, third) == ("answer 1", "answer 1", "answer 2")
    assert len(computed) == 2


def test_none_is_never_remembered():
    memo, _clock = memo_with_clock(2)
    computed: list[None] = []

    def compute() -> None:
        computed.append(None)

    assert memo.get("key", compute) is None
    assert memo.get("key", compute) is None
    assert len(computed) == 2


def test_forget_and_clear_read_again_at_once():
    memo, _clock = memo_with_clock(60)
    answers = iter(["a", "b", "c", "d"])
    memo.get(1, lambda: next(answers))
    memo.get(2, lambda: next(answers))

    memo.forget(1)
    assert memo.get(1, lambda: next(answers)) == "c"
    assert memo.get(2, lambda: "unused") == "b"
    memo.clear()
    assert memo.get(2, lambda: next(answers)) == "d"


def test_past_its_size_the_expired_go_first_then_the_oldest_written():
    memo, clock = memo_with_clock(10, size=3)
    memo.get("old", lambda: "old")
    clock.now += 5
    memo.get("a", lambda: "a")
    memo.get("b", lambda: "b")
    clock.now += 6  # "old" has expired, "a" and "b" have not
    memo.get("c", lambda: "c")
    memo.get("d", lambda: "d")  # full of live answers: "a", the oldest written, goes

    assert sorted(map(str, memo._entries)) == ["b", "c", "d"]
    assert memo.get("b", lambda: "read again") == "b"
    assert memo.get("a", lambda: "read again") == "read again"


def test_a_write_drops_the_expired_answers_before_the_memo_is_full():
    memo, clock = memo_with_clock(2, size=1_000)
    for key in range(500):
        memo.get(key, lambda: "answer")
    clock.now += 2

    memo.get("new", lambda: "answer")

    assert list(memo._entries) == ["new"]


def test_many_threads_reading_and_writing_keep_it_bounded_and_right():
    memo: Memo[int] = Memo(60, size=50)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(offset: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(5000):
                key = (n * 7 + offset) % 200
                assert memo.get(key, functools.partial(int.__mul__, key, 2)) == key * 2
                if n % 97 == 0:
                    memo.forget(key)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(memo._entries) <= 50
