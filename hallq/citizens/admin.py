"""Citizens, the blacklist and the booking agreement in the back office (§3.4, §3.9, §8, §13).

A hall administrator sees the citizens who have booked in one of their halls; a superuser sees
everyone. ID and mobile numbers are masked on every page. The unmasked value is shown only by
"reveal", which asks why, records the look (``PersonalDataAccess``) and shows it once; it is
never put in a message, the session or a log (Django's change log names a citizen by number).

Writes go through the services: ``blacklist_add``, ``blacklist_lift``, ``agreement_publish``,
``personal_data_reveal``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from hallq.citizens.domain.identity import (
    IdentityError,
    mask_id_number,
    mask_mobile,
    normalise_id_number,
    validate_mobile,
)
from hallq.citizens.models import (
    Agreement,
    BlacklistEntry,
    Citizen,
    PersonalDataAccess,
    Violation,
    id_number_index,
    mobile_index,
)
from hallq.citizens.services import (
    AGREEMENT_TITLE_MAX_LENGTH,
    BLACKLIST_MAX_DAYS,
    REASON_MAX_LENGTH,
    agreement_publish,
    blacklist_add,
    blacklist_lift,
    personal_data_reveal,
)
from hallq.common import clock
from hallq.common.errors import HallqError
from hallq.halls.admin import administered_hall_ids, labelled

# -- masking and searching, also for the booking admin ----------------------------------------


def masked_id_number(citizen: Citizen) -> str:
    return mask_id_number(citizen.id_number) if citizen.id_number else "-"


def masked_mobile(citizen: Citizen) -> str:
    return mask_mobile(citizen.mobile) if citizen.mobile else "-"


def citizen_search(term: str, prefix: str = "") -> Q:
    """Citizens whose ID or mobile number is ``term`` in full, found through the blind index
    (the numbers are encrypted: a partial number finds nothing). ``prefix`` leads from another
    model to the citizen, e.g. ``"citizen__"``."""
    match = Q(**{f"{prefix}id_number_index": id_number_index(normalise_id_number(term))})
    try:
        mobile = validate_mobile(term)
    except IdentityError:
        return match
    return match | Q(**{f"{prefix}mobile_index": mobile_index(mobile)})


def visible_citizens(request: HttpRequest) -> QuerySet[Citizen]:
    """Everyone for a superuser; for a hall administrator, those who booked in their halls."""
    halls = administered_hall_ids(request)
    if halls is None:
        return Citizen.objects.all()
    # Booking's reverse relation, not an import: citizens sit below booking.
    booked_here = Citizen.objects.filter(appointments__hall__in=halls).values("pk")
    return Citizen.objects.filter(pk__in=booked_here)


class CitizenScopedAdmin(admin.ModelAdmin):
    """Rows of the citizens the user may see (``citizen_lookup`` leads to them); read-only
    unless a subclass says otherwise."""

    citizen_lookup = "citizen"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if administered_hall_ids(request) is None:
            return queryset
        return queryset.filter(
            **{f"{self.citizen_lookup}__in": visible_citizens(request).values("pk")}
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False) or administered_hall_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # shown only inside a citizen the user may see

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AddsThroughService(admin.ModelAdmin):
    """``save_model`` calls a service; a refusal the form could not foresee (another
    administrator acting at the same moment) comes back as a message, nothing saved."""

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except HallqError as error:
            messages.error(request, str(error.message))
            return HttpResponseRedirect(request.get_full_path())


def _user_id(request: HttpRequest) -> int:
    user = request.user
    if not user.is_authenticated:  # the admin's views let only staff in
        raise PermissionDenied
    return int(user.pk)


def _is_active(entry: BlacklistEntry, now: datetime) -> bool:
    return entry.lifted_at is None and entry.starts_at <= now < entry.ends_at


# -- citizens ---------------------------------------------------------------------------------


class ViolationInline(ReadOnlyInline):
    model = Violation
    readonly_fields = ("kind_name", "appointment", "occurred")
    fields = readonly_fields
    ordering = ["-occurred_at"]

    @admin.display(description=_("violation"))
    def kind_name(self, row: Violation) -> str:
        return str(row.get_kind_display())

    appointment = labelled("appointment_id", _("appointment number"))
    occurred = labelled("occurred_at", _("occurred at"))


class BlacklistInline(ReadOnlyInline):
    model = BlacklistEntry
    fk_name = "citizen"
    readonly_fields = ("entry", "starts", "ends", "active", "reason", "lifted", "lift_reason")
    fields = readonly_fields
    ordering = ["-starts_at"]

    @admin.display(description=_("blacklist entry"))
    def entry(self, row: BlacklistEntry) -> str:
        url = reverse("admin:citizens_blacklistentry_change", args=[row.pk])
        return format_html('<a href="{}">#{}</a>', url, row.pk)

    @admin.display(description=_("active"), boolean=True)
    def active(self, row: BlacklistEntry) -> bool:
        return _is_active(row, clock.now())

    starts = labelled("starts_at", _("starts at"))
    ends = labelled("ends_at", _("ends at"))
    lifted = labelled("lifted_at", _("lifted at"))


PERSONAL_DATA_LABELS = {"id_number": _("ID number"), "mobile": _("mobile number")}


class RevealForm(forms.Form):
    field = forms.ChoiceField(
        label=_("what to reveal"),
        choices=list(PERSONAL_DATA_LABELS.items()),
        widget=forms.RadioSelect,
    )
    purpose = forms.CharField(
        label=_("purpose"),
        max_length=REASON_MAX_LENGTH,
        help_text=_("Why you need to see it. The look is recorded with your name."),
    )


@admin.register(Citizen)
class CitizenAdmin(CitizenScopedAdmin):
    # The masked columns must not be named "id_number" or "mobile": Django shows a model field
    # of a column's name in preference to the admin's method, and would show it unmasked.
    citizen_lookup = "pk"
    list_display = [
        "number",
        "full_name",
        "id_number_masked",
        "mobile_masked",
        "registered",
        "agreement",
        "blacklisted_until",
    ]
    list_display_links = ["number", "full_name"]
    # Only to show the search box: get_search_results matches exactly, never with LIKE.
    search_fields = ["name"]
    search_help_text = _("A name, an ID number or a mobile number, in full.")
    ordering = ["-pk"]
    readonly_fields = (
        "number",
        "full_name",
        "id_number_masked",
        "mobile_masked",
        "registered",
        "agreement",
        "agreement_accepted",
        "created",
        "blacklisted_until",
    )
    fields = readonly_fields
    inlines = [ViolationInline, BlacklistInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Citizen]:
        now = clock.now()
        active = BlacklistEntry.objects.filter(
            citizen=OuterRef("pk"), lifted_at=None, starts_at__lte=now, ends_at__gt=now
        ).order_by("-ends_at")
        return (
            super()
            .get_queryset(request)
            .annotate(blacklisted_until=Subquery(active.values("ends_at")[:1]))
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(name=term) | citizen_search(term)), False

    number = labelled("pk", _("number"))
    agreement = labelled("agreement_version", _("agreement version accepted"))
    agreement_accepted = labelled("agreement_accepted_at", _("agreement accepted at"))
    created = labelled("created_at", _("signed up at"))

    @admin.display(description=_("ID number"))
    def id_number_masked(self, citizen: Citizen) -> str:
        return masked_id_number(citizen)

    @admin.display(description=_("mobile number"))
    def mobile_masked(self, citizen: Citizen) -> str:
        return masked_mobile(citizen)

    @admin.display(description=_("registered"), boolean=True, ordering="registered_at")
    def registered(self, citizen: Citizen) -> bool:
        return citizen.is_registered

    # An annotation of get_queryset (the entry in force now), shown as a list shows a time.
    blacklisted_until = labelled("blacklisted_until", _("blacklisted until"))
    full_name = labelled("name", _("full name"))

    def get_urls(self) -> list[URLPattern]:
        reveal = path(
            "<path:object_id>/reveal/",
            self.admin_site.admin_view(self.reveal_view),
            name="citizens_citizen_reveal",
        )
        return [reveal, *super().get_urls()]

    def reveal_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask why, record the look, and show the unmasked number on this page only."""
        citizen = self.get_object(request, object_id)
        if citizen is None or not self.has_view_permission(request, citizen):
            raise Http404
        form = RevealForm(request.POST if request.method == "POST" else None)
        value = None
        if form.is_valid():
            field = form.cleaned_data["field"]
            if not getattr(citizen, field):
                form.add_error("field", _("This citizen has not registered one."))
            else:
                value = personal_data_reveal(
                    user_id=_user_id(request),
                    citizen=citizen,
                    field=field,
                    purpose=form.cleaned_data["purpose"],
                    now=clock.now(),
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": citizen,
            "title": gettext("Reveal personal data of %(citizen)s") % {"citizen": citizen},
            "form": form,
            "value": value,
            "field_label": PERSONAL_DATA_LABELS.get(form.data.get("field", ""), ""),
        }
        return TemplateResponse(request, "admin/citizens/citizen/reveal.html", context)


# -- the blacklist ----------------------------------------------------------------------------


class BlacklistAddForm(forms.ModelForm):
    days = forms.IntegerField(
        label=_("days"),
        min_value=1,
        max_value=BLACKLIST_MAX_DAYS,
        initial=settings.HALLQ_BLACKLIST_DAYS,
    )

    class Meta:
        model = BlacklistEntry
        fields = ["citizen", "days", "reason"]
        labels = {"citizen": _("citizen")}


class LiftForm(forms.Form):
    reason = forms.CharField(label=_("reason for lifting"), max_length=REASON_MAX_LENGTH)


class ActiveFilter(admin.SimpleListFilter):
    title = _("active")
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("active")), ("no", _("ended or lifted"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = clock.now()
        active = Q(lifted_at=None, starts_at__lte=now, ends_at__gt=now)
        if self.value() == "yes":
            return queryset.filter(active)
        if self.value() == "no":
            return queryset.exclude(active)
        return queryset


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(AddsThroughService, CitizenScopedAdmin):
    """Added by hand with a reason and a number of days, lifted early with a reason."""

    list_display = [
        "citizen_link",
        "citizen_name",
        "starts",
        "ends",
        "active",
        "automatic_entry",
        "reason",
        "lifted",
        "lift_reason",
        "lift_link",
    ]
    list_filter = [ActiveFilter, "automatic"]
    list_select_related = ["citizen"]
    ordering = ["-starts_at"]
    raw_id_fields = ["citizen"]
    detail_fields = (
        "citizen_link",
        "citizen_name",
        "starts",
        "ends",
        "active",
        "automatic_entry",
        "reason",
        "added_by",
        "lifted",
        "lifted_by_user",
        "lift_reason",
    )
    readonly_fields = detail_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return list(self.detail_fields) if obj is not None else ["citizen", "days", "reason"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return list(self.detail_fields) if obj is not None else []

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = BlacklistAddForm
        return super().get_form(request, obj, change, **kwargs)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "citizen":
            kwargs["queryset"] = visible_citizens(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: BlacklistEntry, form: Any, change: bool
    ) -> None:
        entry = blacklist_add(
            citizen=form.cleaned_data["citizen"],
            days=form.cleaned_data["days"],
            reason=form.cleaned_data["reason"],
            by_user_id=_user_id(request),
            now=clock.now(),
        )
        obj.pk = entry.pk
        obj.refresh_from_db()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        entry = self.get_object(request, object_id)
        can_lift = entry is not None and _is_active(entry, clock.now())
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "can_lift": can_lift}
        )

    @admin.display(description=_("citizen"), ordering="citizen")
    def citizen_link(self, entry: BlacklistEntry) -> str:
        url = reverse("admin:citizens_citizen_change", args=[entry.citizen_id])
        return format_html('<a href="{}">{}</a>', url, entry.citizen)

    @admin.display(description=_("full name"))
    def citizen_name(self, entry: BlacklistEntry) -> str:
        return entry.citizen.name

    @admin.display(description=_("active"), boolean=True)
    def active(self, entry: BlacklistEntry) -> bool:
        return _is_active(entry, clock.now())

    @admin.display(description=_("lift"))
    def lift_link(self, entry: BlacklistEntry) -> str:
        if not _is_active(entry, clock.now()):
            return ""
        url = reverse("admin:citizens_blacklistentry_lift", args=[entry.pk])
        return format_html('<a href="{}">{}</a>', url, gettext("Lift"))

    starts = labelled("starts_at", _("starts at"))
    ends = labelled("ends_at", _("ends at"))
    lifted = labelled("lifted_at", _("lifted at"))
    automatic_entry = labelled("automatic", _("automatic (violations)"), boolean=True)
    added_by = labelled("created_by", _("added by"))
    lifted_by_user = labelled("lifted_by", _("lifted by"))

    def get_urls(self) -> list[URLPattern]:
        lift = path(
            "<path:object_id>/lift/",
            self.admin_site.admin_view(self.lift_view),
            name="citizens_blacklistentry_lift",
        )
        return [lift, *super().get_urls()]

    def lift_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        entry = self.get_object(request, object_id)
        if entry is None or not self.has_view_permission(request, entry):
            raise Http404
        form = LiftForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                lifted = blacklist_lift(
                    entry=entry,
                    reason=form.cleaned_data["reason"],
                    by_user_id=_user_id(request),
                    now=clock.now(),
                )
            except HallqError as error:
                form.add_error(None, str(error.message))
            else:
                self.log_change(
                    request, lifted, [{"changed": {"fields": ["lifted_at", "lift_reason"]}}]
                )
                messages.success(request, gettext("The blacklisting is lifted."))
                change = reverse("admin:citizens_blacklistentry_change", args=[entry.pk])
                return HttpResponseRedirect(change)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": entry,
            "title": gettext("Lift blacklist entry %(entry)s") % {"entry": entry},
            "form": form,
        }
        return TemplateResponse(request, "admin/citizens/blacklistentry/lift.html", context)


# -- the booking agreement --------------------------------------------------------------------


class AgreementForm(forms.ModelForm):
    class Meta:
        model = Agreement
        fields = ["title", "text"]
        help_texts = {
            "text": _("Publishing makes this the current version: every citizen accepts it again.")
        }
        widgets = {"title": forms.TextInput(attrs={"maxlength": AGREEMENT_TITLE_MAX_LENGTH})}


@admin.register(Agreement)
class AgreementAdmin(AddsThroughService):
    """Versions are never edited: adding one publishes the next version. The agreement is the
    same in every hall, so publishing needs its permission (a superuser or an organisation
    administrator); hall administrators read it."""

    form = AgreementForm
    list_display = ["version_number", "title", "published"]
    list_display_links = ["version_number", "title"]
    readonly_fields = ["version_number", "published"]

    version_number = labelled("version", _("version"))
    published = labelled("published_at", _("published at"))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None:
            return ["title", "text"]
        return ["version_number", "published", "title", "text"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(
            request.user.has_perm("citizens.view_agreement") or administered_hall_ids(request)
        )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Agreement, form: Any, change: bool) -> None:
        published = agreement_publish(
            title=form.cleaned_data["title"], text=form.cleaned_data["text"], now=clock.now()
        )
        obj.pk = published.pk
        obj.refresh_from_db()


# -- the audit of looks at personal data ------------------------------------------------------


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    """Who saw which citizen's unmasked number, when and why (superusers, auditors)."""

    list_display = ["at_time", "staff_member", "citizen_number", "field_name", "purpose_text"]
    list_filter = ["field"]
    list_select_related = ["user", "citizen"]
    search_fields = ["user__username"]
    date_hierarchy = "at"
    ordering = ["-at"]

    at_time = labelled("at", _("at"))
    staff_member = labelled("user", _("staff member"))
    citizen_number = labelled("citizen", _("citizen"))
    purpose_text = labelled("purpose", _("purpose"))

    @admin.display(description=_("what"), ordering="field")
    def field_name(self, row: PersonalDataAccess) -> str:
        return str(PERSONAL_DATA_LABELS.get(row.field, row.field))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("citizens.view_personaldataaccess"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
