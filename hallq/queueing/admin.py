"""Tickets in the back office: read-only; every change goes through the counter and the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from hallq.halls.admin import HallScopedAdmin
from hallq.queueing.models import Ticket


@admin.register(Ticket)
class TicketAdmin(HallScopedAdmin):
    list_display = [
        "number",
        "hall",
        "service",
        "service_date",
        "state",
        "kind",
        "channel",
        "counter",
        "issued_at",
        "called_at",
        "finished_at",
    ]
    list_filter = ["hall", "state", "kind", "channel", "service_date"]
    search_fields = ["number"]
    date_hierarchy = "issued_at"
    list_select_related = ["hall", "service", "counter"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
