from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from hallq.wechat.client import WeChatError, get_client, wechat_configured


def _links(buttons: list[dict[str, Any]]) -> Iterator[str]:
    for button in buttons:
        if button.get("type") == "view":
            yield str(button.get("url", ""))
        yield from _links(button.get("sub_button", []))


class Command(BaseCommand):
    help = "Push the official account's custom menu (settings.WECHAT_MENU) to WeChat."

    def handle(self, *args: Any, **options: Any) -> None:
        if not wechat_configured():
            raise CommandError("The official account is not configured (HALLQ_WECHAT_APP_ID).")
        menu: list[dict[str, Any]] = settings.WECHAT_MENU
        relative = [link for link in _links(menu) if not link.startswith(("http://", "https://"))]
        if relative:
            raise CommandError(
                f"Menu links must be absolute: set HALLQ_PUBLIC_URL ({', '.join(relative)})."
            )
        try:
            get_client().create_menu(menu)
        except WeChatError as error:
            raise CommandError(f"WeChat refused the menu: {error.errcode} {error.errmsg}") from None
        self.stdout.write(self.style.SUCCESS(f"Menu pushed: {len(menu)} buttons."))
