from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from hallq.wechat.sandbox.app import serve
from hallq.wechat.sandbox.state import SandboxConfig

# Used when hallq itself has no official account configured; point HALLQ_WECHAT_* at the same.
DEMO_APP_ID = "wx5a4d000000sandbox"
DEMO_APP_SECRET = "sandbox-app-secret"  # noqa: S105 (a stand-in's, not a real secret)
DEMO_TOKEN = "sandbox-token"  # noqa: S105


class Command(BaseCommand):
    help = (
        "Run the local stand-in for WeChat's API servers and the SMS vendors (see "
        "hallq/wechat/README.md). Account settings default to HALLQ_WECHAT_*."
    )

    def add_arguments(self, parser: Any) -> None:
        public_url = settings.PUBLIC_URL or "http://127.0.0.1:8000"
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9100)
        parser.add_argument("--callback-url", default=f"{public_url}/wechat/callback")
        parser.add_argument("--app-id", default=settings.WECHAT_APP_ID or DEMO_APP_ID)
        parser.add_argument("--app-secret", default=settings.WECHAT_APP_SECRET or DEMO_APP_SECRET)
        parser.add_argument("--token", default=settings.WECHAT_TOKEN or DEMO_TOKEN)
        parser.add_argument("--aes-key", default=settings.WECHAT_AES_KEY)
        parser.add_argument("--sms-access-key-id", default=settings.SMS_ACCESS_KEY_ID)

    def handle(self, *args: Any, **options: Any) -> None:
        config = SandboxConfig(
            app_id=options["app_id"],
            app_secret=options["app_secret"],
            token=options["token"],
            aes_key=options["aes_key"],
            callback_url=options["callback_url"],
            sms_access_key_id=options["sms_access_key_id"],
        )
        mode = "safe mode (AES)" if config.aes_key else "plain mode"
        self.stdout.write(
            f"WeChat stand-in on http://{options['host']}:{options['port']}/ for app id "
            f"{config.app_id}, {mode}; events go to {config.callback_url}; "
            f"phone view at /phone/."
        )
        serve(
            config,
            host=options["host"],
            port=options["port"],
            log_level=os.environ.get("HALLQ_LOG_LEVEL", "warning").lower(),
        )
