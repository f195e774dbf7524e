"""Slots and appointments in the back office (§3, §8, §13): read-only, scoped to the user's halls.

Citizens' ID and mobile numbers are shown masked here and in the CSV and Excel exports; the
unmasked value is only ever shown by the citizen page's audited "reveal". Appointments are
searched by booking code, or by ID or mobile number through the blind index: an exact match,
since the numbers themselves are encrypted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from hallq.booking.models import Appointment, Slot
from hallq.citizens.admin import citizen_search, masked_id_number, masked_mobile
from hallq.common import clock
from hallq.halls.admin import HallScopedAdmin, labelled, titled_filter


def _hall_time(instant: datetime | None, row: Slot | Appointment) -> str:
    """A time of day as the hall's clock shows it (the back office may be elsewhere)."""
    return "" if instant is None else instant.astimezone(row.hall.zone).strftime("%H:%M")


class ReadOnlyHallAdmin(HallScopedAdmin):
    """Rows that only services write: the back office looks."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("hall"), ordering="hall")
    def hall_name(self, row: Any) -> str:
        return str(row.hall.name)

    @admin.display(description=_("service"), ordering="service")
    def service_name(self, row: Any) -> str:
        return str(row.service)

    @admin.display(description=_("date"), ordering="date")
    def day(self, row: Any) -> str:
        return str(row.date.isoformat())

    @admin.display(description=_("time"), ordering="starts_at")
    def time(self, row: Any) -> str:
        return f"{_hall_time(row.starts_at, row)}–{_hall_time(row.ends_at, row)}"


HALL_FILTER = ("hall", titled_filter(_("hall")))
SERVICE_FILTER = ("service", titled_filter(_("service")))
DATE_FILTER = ("date", titled_filter(_("date"), admin.DateFieldListFilter))


# -- slots ------------------------------------------------------------------------------------


class AppointmentColumns:
    """The columns of an appointment on its list, its page and its slot's page."""

    code = labelled("booking_code", _("booking code"))
    checked_in = labelled("checked_in_at", _("checked in at"))

    @admin.display(description=_("state"), ordering="state")
    def state_name(self, row: Appointment) -> str:
        return str(row.get_state_display())

    @admin.display(description=_("full name"))
    def citizen_name(self, row: Appointment) -> str:
        return row.citizen.name

    @admin.display(description=_("ID number"))
    def id_number_masked(self, row: Appointment) -> str:
        return masked_id_number(row.citizen)

    @admin.display(description=_("mobile number"))
    def mobile_masked(self, row: Appointment) -> str:
        return masked_mobile(row.citizen)


class SlotAppointmentInline(AppointmentColumns, admin.TabularInline):
    """The bookings of a slot, with the citizens' numbers masked."""

    model = Appointment
    fk_name = "slot"
    extra = 0
    readonly_fields = (
        "code",
        "state_name",
        "citizen_name",
        "id_number_masked",
        "mobile_masked",
        "checked_in",
    )
    fields = readonly_fields
    verbose_name_plural = _("appointments of this slot")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Appointment]:
        return super().get_queryset(request).select_related("citizen").order_by("created_at")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Shown only inside a slot the user may see.
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Slot)
class SlotAdmin(ReadOnlyHallAdmin):
    """Bookings per slot: quota, places taken and places left, live."""

    list_display = [
        "day",
        "time",
        "service_name",
        "hall_name",
        "places",
        "booked",
        "remaining",
        "open",
    ]
    list_display_links = ["day", "time"]
    list_filter = [HALL_FILTER, SERVICE_FILTER, "is_open"]
    list_select_related = ["hall", "service"]
    date_hierarchy = "date"
    ordering = ["-date", "service", "starts_at"]
    readonly_fields = (
        "hall_name",
        "service_name",
        "day",
        "time",
        "places",
        "booked",
        "remaining",
        "open",
    )
    fields = readonly_fields
    inlines = [SlotAppointmentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Slot]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                booked=Count("places", filter=Q(places__appointment__isnull=False)),
                remaining=Count("places", filter=Q(places__appointment__isnull=True)),
            )
        )

    # Not named after the model field: a field of the same name would win over this method.
    @admin.display(description=_("quota"), ordering="quota")
    def places(self, slot: Slot) -> int:
        return slot.quota

    @admin.display(description=_("booked"), ordering="booked")
    def booked(self, slot: Any) -> int:
        return int(slot.booked)

    @admin.display(description=_("remaining"), ordering="remaining")
    def remaining(self, slot: Any) -> int:
        return int(slot.remaining)

    @admin.display(description=_("open for booking"), boolean=True, ordering="is_open")
    def open(self, slot: Slot) -> bool:
        return slot.is_open


# -- appointments -----------------------------------------------------------------------------


def _csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local(instant: datetime | None) -> str:
    return "" if instant is None else timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


@admin.register(Appointment)
class AppointmentAdmin(AppointmentColumns, ReadOnlyHallAdmin):
    list_display = [
        "code",
        "day",
        "time",
        "service_name",
        "hall_name",
        "state_name",
        "channel_name",
        "citizen_name",
        "id_number_masked",
        "mobile_masked",
    ]
    list_filter = [
        HALL_FILTER,
        SERVICE_FILTER,
        DATE_FILTER,
        ("state", titled_filter(_("state"), admin.ChoicesFieldListFilter)),
        ("channel", titled_filter(_("channel"), admin.ChoicesFieldListFilter)),
    ]
    list_select_related = ["hall", "service", "citizen"]
    # Only to show the search box: get_search_results matches exactly, never with LIKE.
    search_fields = ["booking_code"]
    search_help_text = _("A booking code, an ID number or a mobile number, in full.")
    date_hierarchy = "date"
    ordering = ["-date", "starts_at"]
    actions = ["export_csv", "export_xlsx"]
    readonly_fields = (
        "code",
        "hall_name",
        "service_name",
        "day",
        "time",
        "state_name",
        "channel_name",
        "citizen_link",
        "citizen_name",
        "id_number_masked",
        "mobile_masked",
        "booked_at",
        "checked_in",
        "cancelled",
        "no_show",
        "ticket_number",
    )
    fields = readonly_fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(booking_code=term) | citizen_search(term, "citizen__")), False

    booked_at = labelled("created_at", _("booked at"))
    cancelled = labelled("cancelled_at", _("cancelled at"))
    no_show = labelled("no_show_at", _("marked no-show at"))

    @admin.display(description=_("channel"), ordering="channel")
    def channel_name(self, row: Appointment) -> str:
        return str(row.get_channel_display())

    @admin.display(description=_("citizen"))
    def citizen_link(self, row: Appointment) -> str:
        url = reverse("admin:citizens_citizen_change", args=[row.citizen_id])
        return format_html('<a href="{}">{}</a>', url, row.citizen)

    @admin.display(description=_("ticket"))
    def ticket_number(self, row: Appointment) -> str:
        return row.ticket.number if row.ticket is not None else ""

    def _export_rows(self, queryset: QuerySet[Appointment]) -> Iterator[list[str]]:
        """The header, then a row per appointment: numbers masked, times in the hall's."""
        yield [
            gettext("booking code"),
            gettext("hall"),
            gettext("service"),
            gettext("date"),
            gettext("time"),
            gettext("state"),
            gettext("channel"),
            gettext("full name"),
            gettext("ID number"),
            gettext("mobile number"),
            gettext("booked at"),
            gettext("checked in at"),
        ]
        rows = queryset.select_related("hall", "service", "citizen").order_by("date", "starts_at")
        for row in rows.iterator(chunk_size=500):
            yield [
                row.booking_code,
                row.hall.name,
                str(row.service),
                row.date.isoformat(),
                self.time(row),
                str(row.get_state_display()),
                str(row.get_channel_display()),
                row.citizen.name,
                masked_id_number(row.citizen),
                masked_mobile(row.citizen),
                _local(row.created_at),
                _local(row.checked_in_at),
            ]

    @staticmethod
    def _export_name(extension: str) -> str:
        stamp = timezone.localtime(clock.now()).strftime("%Y%m%d-%H%M")
        return f'attachment; filename="appointments-{stamp}.{extension}"'

    @admin.action(description=_("Export the selected appointments (CSV)"))
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> HttpResponse:
        """A CSV file Excel opens (UTF-8 with a byte-order mark), numbers masked."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = self._export_name("csv")
        response.write("\ufeff")
        writer = csv.writer(response)
        writer.writerows(
            [_csv_cell(value) for value in values] for values in self._export_rows(queryset)
        )
        return response

    @admin.action(description=_("Export the selected appointments (Excel)"))
    def export_xlsx(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> HttpResponse:
        """An Excel workbook (openpyxl, written row by row), numbers masked. Every cell is text:
        a name beginning with "=" stays a name, never a formula."""
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(gettext("appointments"))
        for values in self._export_rows(queryset):
            cells = []
            for value in values:
                # Control characters are not allowed in a workbook: dropped, not an error.
                cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                cell.data_type = "s"
                cells.append(cell)
            sheet.append(cells)
        content = io.BytesIO()
        workbook.save(content)
        response = HttpResponse(content.getvalue(), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = self._export_name("xlsx")
        return response
