"""Schedules in the back office (§3.1–3.3, §8).

Booking rules, weekly slots, date overrides and hall days belong to a hall: its administrators
see, add, change and delete them, and nothing of another hall. The national calendar belongs to
nobody's hall: everyone in the back office reads it, and only those holding its permissions (a
superuser, or an organisation administrator granted them) correct it or confirm a year the
holiday library does not cover yet.

Saving or deleting a schedule row brings the slots already materialised in line
(``hallq.booking.signals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from hallq.common import clock
from hallq.halls.admin import HallScopedAdmin, administered_hall_ids, labelled, titled_filter
from hallq.halls.models import Hall, Service
from hallq.scheduling.domain.calendar import DayInfo, DayKind
from hallq.scheduling.models import (
    BookingRules,
    CalendarDay,
    CalendarYear,
    DateOverride,
    HallDay,
    OverrideKind,
    SlotTemplate,
    Weekday,
)
from hallq.scheduling.selectors import calendar_days


def visible_halls(request: HttpRequest) -> QuerySet[Hall]:
    halls = administered_hall_ids(request)
    return Hall.objects.all() if halls is None else Hall.objects.filter(pk__in=halls)


def visible_services(request: HttpRequest) -> QuerySet[Service]:
    return Service.objects.filter(hall__in=visible_halls(request)).select_related("hall")


class ServiceChoiceField(forms.ModelChoiceField):
    """Names the hall too: every hall has an "A 综合业务"."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.hall.name} · {obj}"


# -- a service's schedule ---------------------------------------------------------------------


class ScheduleAdmin(HallScopedAdmin):
    """Rows of one service's schedule, which its hall's administrators may also delete."""

    hall_lookup = "service__hall"
    list_select_related = ["service__hall"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name != "service":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        kwargs.update(form_class=ServiceChoiceField, label=_("service"))
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.queryset = visible_services(request)
        return field

    @admin.display(description=_("hall"), ordering="service__hall")
    def hall(self, row: Any) -> str:
        return str(row.service.hall.name)

    @admin.display(description=_("service"), ordering="service")
    def service_name(self, row: Any) -> str:
        return str(row.service)


HALL_FILTER = ("service__hall", titled_filter(_("hall")))
SERVICE_FILTER = ("service", titled_filter(_("service")))
SLOT_ORDER_MESSAGE = _("A slot must end after it starts.")


class BookingRulesForm(forms.ModelForm):
    class Meta:
        model = BookingRules
        fields = [
            "service",
            "min_days_ahead",
            "max_days_ahead",
            "release_time",
            "cancel_cutoff_minutes",
            "check_in_before_minutes",
            "check_in_after_minutes",
            "reminder_minutes",
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        earliest, latest = cleaned.get("min_days_ahead"), cleaned.get("max_days_ahead")
        if earliest is not None and latest is not None and latest < earliest:
            self.add_error(
                "max_days_ahead", _("The latest day ahead cannot come before the earliest.")
            )
        return cleaned


@admin.register(BookingRules)
class BookingRulesAdmin(ScheduleAdmin):
    form = BookingRulesForm
    list_display = [
        "service_name",
        "hall",
        "min_days_ahead",
        "max_days_ahead",
        "release_time",
        "cancel_cutoff_minutes",
        "check_in_before_minutes",
        "check_in_after_minutes",
        "reminder_minutes",
    ]
    list_filter = [HALL_FILTER]


class SlotTemplateForm(forms.ModelForm):
    class Meta:
        model = SlotTemplate
        fields = ["service", "weekday", "start", "end", "quota"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and end <= start:
            self.add_error("end", SLOT_ORDER_MESSAGE)
        return cleaned


@dataclass(frozen=True)
class WeekdayColumn:
    label: str
    slots: list[SlotTemplate]
    quota: int
    add_url: str


@admin.register(SlotTemplate)
class SlotTemplateAdmin(ScheduleAdmin):
    """The weekly template as a list (filter by service and weekday) and as a week grid."""

    form = SlotTemplateForm
    list_display = ["service_name", "hall", "weekday", "start", "end", "quota"]
    list_display_links = ["weekday", "start"]
    list_editable = ["quota"]
    list_filter = [HALL_FILTER, SERVICE_FILTER, "weekday"]

    def get_urls(self) -> list[URLPattern]:
        week = path(
            "week/",
            self.admin_site.admin_view(self.week_view),
            name="scheduling_slottemplate_week",
        )
        return [week, *super().get_urls()]

    def week_view(self, request: HttpRequest) -> HttpResponse:
        """One service's weekly template: a column per weekday."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        services = list(visible_services(request))
        chosen = services[0] if services else None
        if "service" in request.GET:
            chosen = next((s for s in services if str(s.pk) == request.GET["service"]), None)
            if chosen is None:
                raise Http404
        rows = list(SlotTemplate.objects.filter(service=chosen).order_by("weekday", "start"))
        add_url = reverse("admin:scheduling_slottemplate_add")
        columns = [
            WeekdayColumn(
                label=str(weekday.label),
                slots=[row for row in rows if row.weekday == weekday],
                quota=sum(row.quota for row in rows if row.weekday == weekday),
                add_url=f"{add_url}?{urlencode({'service': chosen.pk, 'weekday': weekday})}"
                if chosen
                else add_url,
            )
            for weekday in Weekday
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Weekly slots by weekday"),
            "services": services,
            "chosen": chosen,
            "columns": columns,
        }
        return TemplateResponse(request, "admin/scheduling/slottemplate/week.html", context)


class DateOverrideForm(forms.ModelForm):
    # What each kind of change needs (the database refuses a row without it).
    NEEDS = {
        OverrideKind.CLOSE_DAY: (),
        OverrideKind.CLOSE_SLOT: ("start",),
        OverrideKind.SET_QUOTA: ("start", "quota"),
        OverrideKind.ADD_SLOT: ("start", "end", "quota"),
    }

    class Meta:
        model = DateOverride
        fields = ["service", "date", "kind", "start", "end", "quota", "note"]
        help_texts = {
            "start": _("The slot to close or change, or the start of the slot to add."),
            "end": _("Only for a slot to add."),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        for name in self.NEEDS.get(kind, ()) if kind else ():
            if cleaned.get(name) is None and name not in self.errors:
                self.add_error(name, _("This change needs a value here."))
        start, end = cleaned.get("start"), cleaned.get("end")
        adding = kind == OverrideKind.ADD_SLOT
        if adding and start is not None and end is not None and end <= start:
            self.add_error("end", SLOT_ORDER_MESSAGE)
        return cleaned


@admin.register(DateOverride)
class DateOverrideAdmin(ScheduleAdmin):
    form = DateOverrideForm
    list_display = ["date", "service_name", "hall", "kind", "start", "end", "quota", "note"]
    list_display_links = ["date", "kind"]
    list_filter = [HALL_FILTER, SERVICE_FILTER, "kind", "date"]
    date_hierarchy = "date"
    ordering = ["-date", "service", "start"]


class HallDayForm(forms.ModelForm):
    class Meta:
        model = HallDay
        fields = ["hall", "date", "closed", "template_weekday", "reason"]
        labels = {"hall": _("hall")}
        help_texts = {
            "template_weekday": _(
                "For a make-up working day (调休) or any open day: whose weekly slots it uses. "
                "A make-up working day uses Monday's unless another weekday is chosen."
            )
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("closed") and cleaned.get("template_weekday") is None:
            self.add_error(None, _("Close the day, or choose the weekday whose slots it uses."))
        return cleaned


@admin.register(HallDay)
class HallDayAdmin(HallScopedAdmin):
    """The hall's closures and its choice of template for make-up working days."""

    form = HallDayForm
    list_display = ["date", "hall", "closed", "template_weekday", "reason"]
    list_filter = [("hall", titled_filter(_("hall"))), "closed", "date"]
    list_select_related = ["hall"]
    date_hierarchy = "date"
    ordering = ["-date", "hall"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


# -- the national calendar --------------------------------------------------------------------


KIND_LABELS = {
    DayKind.HOLIDAY: _("public holiday"),
    DayKind.MAKEUP_WORKDAY: _("make-up working day (调休)"),
}


@dataclass(frozen=True)
class HallTemplate:
    """Which weekday's slots one hall uses on a make-up working day, and where to change it."""

    hall: str
    weekday: str
    chosen: bool
    url: str


@dataclass(frozen=True)
class CalendarRow:
    day: DayInfo
    weekday: str
    kind: str
    halls: list[HallTemplate]


class NationalCalendarAdmin(admin.ModelAdmin):
    """Read by everyone in the back office; written only with the model's permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.has_perm(f"{self.opts.app_label}.view_{self.opts.model_name}")
            or administered_hall_ids(request)
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


@admin.register(CalendarDay)
class CalendarDayAdmin(NationalCalendarAdmin):
    """Corrections of the holiday library, and the calendar of a year (``calendar/``)."""

    list_display = ["date", "weekday", "is_workday", "name"]
    date_hierarchy = "date"

    @admin.display(description=_("weekday"))
    def weekday(self, row: CalendarDay) -> str:
        return str(Weekday(row.date.weekday()).label)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "calendar/",
                self.admin_site.admin_view(self.calendar_view),
                name="scheduling_calendarday_calendar",
            ),
            path(
                "calendar/confirm/",
                self.admin_site.admin_view(require_POST(self.confirm_year_view)),
                name="scheduling_calendarday_confirm_year",
            ),
            *super().get_urls(),
        ]

    def calendar_view(self, request: HttpRequest) -> HttpResponse:
        """The holidays and make-up working days of a year; for a make-up day, the weekday
        whose slots each of the user's halls uses, with a link to choose another."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        year = _year(request.GET.get("year"))
        known = calendar_days(start=date(year, 1, 1), end=date(year, 12, 31))
        special = [day for day in known.days if day.kind in KIND_LABELS]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("National calendar of %(year)d") % {"year": year},
            "year": year,
            "rows": _calendar_rows(special, list(visible_halls(request))),
            "unknown": year in known.unknown_years,
            "confirmed": CalendarYear.objects.filter(year=year)
            .select_related("confirmed_by")
            .first(),
            "can_confirm": request.user.has_perm("scheduling.add_calendaryear"),
        }
        return TemplateResponse(request, "admin/scheduling/calendarday/calendar.html", context)

    def confirm_year_view(self, request: HttpRequest) -> HttpResponse:
        """Vouch for a year the holiday library does not cover: its weekdays are working days
        and its weekends rest days, except the corrections entered for it."""
        if not request.user.has_perm("scheduling.add_calendaryear"):
            raise PermissionDenied
        year = _year(request.POST.get("year"))
        calendar = reverse("admin:scheduling_calendarday_calendar") + f"?year={year}"
        known = calendar_days(start=date(year, 1, 1), end=date(year, 12, 31))
        if year not in known.unknown_years:
            messages.info(
                request, gettext("The days of %(year)d are known already.") % {"year": year}
            )
            return HttpResponseRedirect(calendar)
        confirmed, created = CalendarYear.objects.get_or_create(
            year=year, defaults={"confirmed_at": clock.now(), "confirmed_by_id": request.user.pk}
        )
        if created:
            self.log_addition(request, confirmed, [{"added": {}}])
        messages.success(
            request,
            gettext("%(year)d is confirmed: its dates can be booked.") % {"year": year},
        )
        return HttpResponseRedirect(calendar)


def _year(text: str | None) -> int:
    today = timezone.localdate(clock.now())
    try:
        year = int(text or today.year)
    except ValueError:
        return today.year
    return year if date.min.year < year < date.max.year else today.year


def _calendar_rows(days: list[DayInfo], halls: list[Hall]) -> list[CalendarRow]:
    makeup_dates = [day.date for day in days if day.kind is DayKind.MAKEUP_WORKDAY]
    hall_days = {
        (row.hall_id, row.date): row
        for row in HallDay.objects.filter(hall__in=halls, date__in=makeup_dates)
    }
    rows = []
    for day in days:
        templates = []
        if day.kind is DayKind.MAKEUP_WORKDAY:
            for hall in halls:
                templates.append(_hall_template(hall, day.date, hall_days.get((hall.pk, day.date))))
        rows.append(
            CalendarRow(
                day=day,
                weekday=str(Weekday(day.date.weekday()).label),
                kind=str(KIND_LABELS[day.kind]),
                halls=templates,
            )
        )
    return rows


def _hall_template(hall: Hall, day: date, row: HallDay | None) -> HallTemplate:
    if row is not None:
        closed = gettext("hall closed")
        weekday = row.get_template_weekday_display() if row.template_weekday is not None else None
        return HallTemplate(
            hall=hall.name,
            weekday=closed if row.closed else str(weekday or Weekday.MONDAY.label),
            chosen=True,
            url=reverse("admin:scheduling_hallday_change", args=[row.pk]),
        )
    query = urlencode(
        {"hall": hall.pk, "date": day.isoformat(), "template_weekday": Weekday.MONDAY}
    )
    return HallTemplate(
        hall=hall.name,
        weekday=str(Weekday.MONDAY.label),
        chosen=False,
        url=f"{reverse('admin:scheduling_hallday_add')}?{query}",
    )


@admin.register(CalendarYear)
class CalendarYearAdmin(NationalCalendarAdmin):
    """Years confirmed by hand; confirming happens on the calendar page."""

    list_display = ["calendar_year", "confirmed", "confirmed_by_user"]

    calendar_year = labelled("year", _("year"))
    confirmed = labelled("confirmed_at", _("confirmed at"))
    confirmed_by_user = labelled("confirmed_by", _("confirmed by"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
