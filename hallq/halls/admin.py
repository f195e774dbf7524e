"""The back office for halls (§8): hall administrators see and change only their own halls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import FieldListFilter
from django.contrib.admin.utils import display_for_value
from django.db.models import QuerySet
from django.http import HttpRequest

from hallq.halls.models import (
    DEVICE_TOKEN_PREFIX,
    Counter,
    CounterService,
    DeviceToken,
    Hall,
    HallMembership,
    Organisation,
    Service,
    hash_token,
    new_token,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def administered_hall_ids(request: HttpRequest) -> set[int] | None:
    """The halls this user administers; None means every hall (a superuser)."""
    user = request.user
    if getattr(user, "is_superuser", False):
        return None
    if not user.is_authenticated:
        return set()
    return set(
        HallMembership.objects.filter(user_id=int(user.pk), is_hall_admin=True).values_list(
            "hall_id", flat=True
        )
    )


def titled_filter(
    title: StrOrPromise, base: type[FieldListFilter] = admin.RelatedOnlyFieldListFilter
) -> type[FieldListFilter]:
    """A list filter under a translated title (a field's own title is its untranslated name).
    The default offers only the related objects the admin's rows use, so a hall administrator's
    sidebar names nothing of another hall."""

    class TitledFilter(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledFilter


def labelled(
    attribute: str, label: StrOrPromise, *, boolean: bool = False
) -> Callable[[Any, Any], Any]:
    """A read-only column (or detail field) showing a model attribute under a translated label,
    for fields whose own label is their untranslated name. Assign it in a ModelAdmin class.
    Values read as in a list (times in the current zone, "-" for none) on detail pages too."""

    def show(model_admin: Any, row: Any) -> Any:
        value = getattr(row, attribute)
        return value if boolean else display_for_value(value, "-")

    return admin.display(description=label, ordering=attribute, boolean=boolean)(show)


class HallScopedAdmin(admin.ModelAdmin):
    """Limits lists, edits and foreign-key choices to the user's halls."""

    hall_lookup = "hall"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        halls = administered_hall_ids(request)
        if halls is None:
            return queryset
        return queryset.filter(**{f"{self.hall_lookup}__in": halls})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        halls = administered_hall_ids(request)
        if halls is not None and db_field.name == "hall":
            kwargs["queryset"] = Hall.objects.filter(pk__in=halls)
        if halls is not None and db_field.name in {"service", "counter"}:
            kwargs["queryset"] = db_field.related_model.objects.filter(hall__in=halls)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False) or administered_hall_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "parent"]
    search_fields = ["name"]


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    fields = [
        "prefix",
        "name",
        "bookable",
        "pre_call_distance",
        "average_service_seconds",
        "display_order",
        "active",
    ]


@admin.register(Hall)
class HallAdmin(HallScopedAdmin):
    hall_lookup = "pk"
    list_display = ["name", "organisation", "address", "time_zone", "opens_at", "closes_at"]
    list_filter = ["organisation"]
    search_fields = ["name", "address"]
    inlines = [ServiceInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))


@admin.register(Service)
class ServiceAdmin(HallScopedAdmin):
    list_display = [
        "hall",
        "prefix",
        "name",
        "bookable",
        "pre_call_distance",
        "average_service_seconds",
        "active",
    ]
    list_filter = ["hall", "active"]
    search_fields = ["name"]


class CounterServiceInline(admin.TabularInline):
    model = CounterService
    extra = 1
    fields = ["service", "priority"]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        halls = administered_hall_ids(request)
        if halls is not None and db_field.name == "service":
            kwargs["queryset"] = Service.objects.filter(hall__in=halls)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Counter)
class CounterAdmin(HallScopedAdmin):
    list_display = [
        "hall",
        "number",
        "name",
        "state",
        "staff",
        "use_service_priority",
        "interleave_after",
    ]
    list_filter = ["hall", "state"]
    inlines = [CounterServiceInline]
    readonly_fields = ["state", "staff", "priority_streak"]


@admin.register(HallMembership)
class HallMembershipAdmin(HallScopedAdmin):
    list_display = ["user", "hall", "is_hall_admin"]
    list_filter = ["hall", "is_hall_admin"]


@admin.register(DeviceToken)
class DeviceTokenAdmin(HallScopedAdmin):
    """Kiosks and display boards. A new device's token is shown once, right after saving."""

    list_display = ["hall", "kind", "name", "created_at", "revoked_at"]
    list_filter = ["hall", "kind"]
    fields = ["hall", "kind", "name", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: DeviceToken, form: Any, change: bool) -> None:
        if not change:
            token = new_token(DEVICE_TOKEN_PREFIX)
            obj.token_hash = hash_token(token)
            path = "kiosk" if obj.kind == "kiosk" else "display"
            messages.warning(
                request,
                f"设备令牌只显示这一次 / shown only once: /{path}/{obj.hall_id}/#token={token}",
            )
        super().save_model(request, obj, form, change)

    @admin.action(description="吊销所选设备令牌 Revoke the selected device tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[DeviceToken]) -> None:
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
