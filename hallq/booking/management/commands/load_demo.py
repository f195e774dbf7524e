from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from hallq.booking.demo import load_booking_demo
from hallq.common import clock
from hallq.halls.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo organisation (once) and print every page's URL and login."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--sandbox-url", default="")

    def handle(self, *args: Any, base_url: str, sandbox_url: str, **options: Any) -> None:
        path = settings.VAR_DIR / "demo-credentials.json"
        credentials = load_demo(path)
        load_booking_demo(now=clock.now())
        out = self.stdout.write
        out(self.style.SUCCESS(f"\nhallq demo — credentials saved in {path}\n"))
        out(f"  Start page          {base_url}/")
        out(
            f"  Back office         {base_url}/admin/   "
            f"{credentials['admin']['username']} / {credentials['admin']['password']}"
        )
        out(f"  Counter page        {base_url}/counter/   (staff logins below)")
        out("  Ticket page         opened from the QR code or link on each kiosk ticket")
        out(f"  Queue progress      {base_url}/progress/")
        out(f"  Book an appointment {base_url}/book/   (phone; sign in with any mobile number,")
        out("                      the SMS code is printed in this terminal)")
        out(f"  My appointments     {base_url}/me/")
        if sandbox_url:
            out(
                f"  WeChat stand-in     {sandbox_url}/phone/   (the messages each demo WeChat user"
                " receives; scan a ticket's QR by opening its link)"
            )
        out(f"  API documentation   {base_url}/api/v1/docs   (schema: /api/v1/openapi.json)")
        for hall in credentials["halls"]:
            out(f"\n  {hall['name']} (hall {hall['id']})")
            out(f"    Kiosk           {base_url}/kiosk/{hall['id']}/#token={hall['kiosk_token']}")
            display = f"{base_url}/display/{hall['id']}/#token={hall['display_token']}"
            out(f"    Display board   {display}")
            out(f"    Queue progress  {base_url}/progress/{hall['id']}/")
            logins = ", ".join(f"{s['username']} / {s['password']}" for s in hall["staff"])
            out(f"    Staff           {logins}")
        out("")
