"""Ticket numbers (PRODUCT.md §4.1): prefix + daily sequence, zero-padded to three digits."""

from __future__ import annotations

DIGIT_WORDS = "零一二三四五六七八九"


def format_number(prefix: str, sequence: int) -> str:
    if sequence < 1:
        raise ValueError("sequence starts at 1")
    return f"{prefix}{sequence:03d}"


def spoken_number(number: str) -> str:
    """How the display reads a ticket number aloud: letters as they are, digits one by one."""
    return "".join(DIGIT_WORDS[int(ch)] if ch.isdigit() else ch for ch in number)


def call_announcement(number: str, counter_number: str) -> str:
    """The sentence the display speaks: 请 A零一二 号到 3 号窗口办理."""
    return f"请{spoken_number(number)}号到{counter_number}号窗口办理"
