"""The pages' tests borrow the official account's stand-in for WeChat (served in a thread)."""

from hallq.officialaccount.tests.conftest import Sandbox, sandbox, sandbox_server

__all__ = ["Sandbox", "sandbox", "sandbox_server"]
