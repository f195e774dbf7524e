"""The WeChat stand-in for the notification benchmarks: hallq's own (hallq.wechat.sandbox, the
same app as `manage.py wechat_sandbox`) with as many extra followers as a run needs.

The stand-in knows only its five demo users and answers 40003 ("invalid openid") for anyone
else; a hall at peak needs a WeChat user per ticket, and the throughput run one per message (a
worker sends one person's messages one after another, different people's side by side). Its
control API can change a user but not add one, so this script adds them before serving:
o_bench_000001 … o_bench_<N>, all followers who accept subscription messages.

Run by bench/notifications_stack.py with the app's Python, in the app's directory.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import uvicorn  # noqa: E402

from hallq.wechat.management.commands.wechat_sandbox import (  # noqa: E402
    DEMO_APP_ID,
    DEMO_APP_SECRET,
    DEMO_TOKEN,
)
from hallq.wechat.sandbox.app import SandboxApp  # noqa: E402
from hallq.wechat.sandbox.state import DemoUser, SandboxConfig  # noqa: E402


def openid(index: int) -> str:
    """The bench's WeChat user number ``index`` (from 1); bench/notifications_stack.py agrees."""
    return f"o_bench_{index:06d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--callback-url", required=True)
    parser.add_argument("--users", type=int, required=True)
    args = parser.parse_args()
    app = SandboxApp(
        SandboxConfig(
            app_id=DEMO_APP_ID,
            app_secret=DEMO_APP_SECRET,
            token=DEMO_TOKEN,
            aes_key="",
            callback_url=args.callback_url,
        )
    )
    for index in range(1, args.users + 1):
        app.state.users[openid(index)] = DemoUser(openid(index), f"用户{index}", follower=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
