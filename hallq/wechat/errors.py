"""What a call to WeChat can fail with."""

from __future__ import annotations


class WeChatError(Exception):
    """WeChat answered with an error code (research notes §10: 40003 invalid openid, 43004 not a
    follower, 43101 not subscribed, 45009 daily quota, 47003 invalid argument, …)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached or gave no answer in time: whether the call took effect is
    unknown (a message may still arrive), so a retry must be idempotent."""

    ERRCODE = -2

    def __init__(self, errmsg: str) -> None:
        super().__init__(self.ERRCODE, errmsg)
