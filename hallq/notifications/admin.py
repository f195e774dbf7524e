"""Notifications in the back office (§5): each one's state, attempts and last error; failed
ones can be retried; a dashboard of delivery rate and latency. Hall administrators see their
own halls' notifications only. Nothing here edits a notification by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from hallq.common import clock
from hallq.common.sms import mask_phone
from hallq.halls.admin import HallScopedAdmin, administered_hall_ids, titled_filter
from hallq.notifications.models import DeliveryAttempt, Notification
from hallq.notifications.selectors import delivery_days
from hallq.notifications.services import notifications_retry

DASHBOARD_DAYS = 7


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ["channel", "started_at", "finished_at", "ok", "errcode", "error"]
    readonly_fields = ["channel", "started_at", "finished_at", "ok", "errcode", "error"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(HallScopedAdmin):
    list_display = [
        "created_at",
        "hall",
        "kind",
        "subject",
        "state",
        "attempts",
        "channel",
        "short_error",
        "sent_at",
    ]
    list_filter = [
        "state",
        "kind",
        "channel",
        ("hall", titled_filter(_("hall"))),
    ]
    search_fields = ["=subject_id"]
    date_hierarchy = "created_at"
    list_select_related = ["hall"]
    actions = ["retry"]
    inlines = [DeliveryAttemptInline]
    fields = readonly_fields = (
        "hall",
        "subject",
        "kind",
        "state",
        "attempts",
        "next_attempt_at",
        "channel",
        "last_error",
        "created_at",
        "sent_at",
        "recipient",
        "data",
    )

    @admin.display(description=_("subject"))
    def subject(self, row: Notification) -> str:
        occurrence = f" #{row.occurrence}" if row.occurrence else ""
        return f"{row.get_subject_type_display()} {row.subject_id}{occurrence}"

    @admin.display(description=_("last error"))
    def short_error(self, row: Notification) -> str:
        return row.last_error if len(row.last_error) <= 60 else row.last_error[:59] + "…"

    @admin.display(description=_("recipient"))
    def recipient(self, row: Notification) -> str:
        # Personal data shown masked: enough to tell two citizens apart, not to contact one.
        parts = []
        if row.openid:
            parts.append(f"openid {row.openid[:6]}…")
        if row.mobile:
            parts.append(mask_phone(row.mobile))
        return ", ".join(parts) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    @admin.action(description=_("Retry the selected failed notifications"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        retried = notifications_retry(notification_ids=ids, now=clock.now())
        self.message_user(
            request,
            ngettext(
                "%(count)d notification will be sent again.",
                "%(count)d notifications will be sent again.",
                retried,
            )
            % {"count": retried},
            messages.SUCCESS if retried else messages.WARNING,
        )

    def get_urls(self) -> list[URLPattern]:
        dashboard = path(
            "dashboard/",
            self.admin_site.admin_view(self.dashboard_view),
            name="notifications_notification_dashboard",
        )
        return [dashboard, *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        """Delivery rate and latency (p50, p99) per hall and day, over the last week."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        since = clock.now() - timedelta(days=DASHBOARD_DAYS)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Delivery of notifications"),
            "days": delivery_days(hall_ids=administered_hall_ids(request), since=since),
            "days_shown": DASHBOARD_DAYS,
        }
        return TemplateResponse(request, "admin/notifications/notification/dashboard.html", context)
