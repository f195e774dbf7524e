"""Organisations, halls, services, counters, staff membership and device tokens (§2)."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Organisation(models.Model):
    """A node of the organisation tree (region → district → department)."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    def __str__(self) -> str:
        return self.name


class Hall(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="halls")
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True)
    # GCJ-02, as Chinese map apps use.
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai")
    opens_at = models.TimeField(default="08:30")
    closes_at = models.TimeField(default="17:30")
    # Waiting tickets per open counter below which the hall shows "idle — no booking needed".
    busy_threshold = models.FloatField(default=3.0)

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Service(models.Model):
    hall = models.ForeignKey(Hall, on_delete=models.PROTECT, related_name="services")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=1, validators=[RegexValidator(r"^[A-Z]$", _("One capital letter, A–Z."))]
    )
    guide = models.TextField(blank=True)
    bookable = models.BooleanField(default=True)
    pre_call_distance = models.PositiveSmallIntegerField(default=3)
    # Used until enough tickets of this service have been served to learn from (§4.6).
    average_service_seconds = models.PositiveIntegerField(default=300)
    display_order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["hall", "display_order", "prefix"]
        constraints = [
            models.UniqueConstraint(fields=["hall", "prefix"], name="service_prefix_unique_in_hall")
        ]

    def __str__(self) -> str:
        return f"{self.prefix} {self.name}"


class CounterState(models.TextChoices):
    OPEN = "open", _("open")
    PAUSED = "paused", _("paused")
    CLOSED = "closed", _("closed")


class Counter(models.Model):
    hall = models.ForeignKey(Hall, on_delete=models.PROTECT, related_name="counters")
    number = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100, blank=True)
    services = models.ManyToManyField(Service, through="CounterService", related_name="counters")
    state = models.CharField(
        max_length=10, choices=CounterState.choices, default=CounterState.CLOSED
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="counters",
    )
    use_service_priority = models.BooleanField(default=False)
    interleave_after = models.PositiveSmallIntegerField(null=True, blank=True)
    # Consecutive priority calls since the last walk-in, for the interleave rule.
    priority_streak = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["hall", "number"]
        constraints = [
            models.UniqueConstraint(fields=["hall", "number"], name="counter_number_unique_in_hall")
        ]

    def __str__(self) -> str:
        return f"{self.number}号窗口 {self.name}".strip()


class CounterService(models.Model):
    counter = models.ForeignKey(Counter, on_delete=models.CASCADE)
    service = models.ForeignKey(Service, on_delete=models.CASCADE)
    priority = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["counter", "priority"]
        constraints = [
            models.UniqueConstraint(fields=["counter", "service"], name="counter_service_unique")
        ]

    def __str__(self) -> str:
        return f"{self.counter_id} → {self.service_id} ({self.priority})"


class HallMembership(models.Model):
    """Which halls a staff member works in; staff of hall X touch nothing of hall Y."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hall_memberships"
    )
    hall = models.ForeignKey(Hall, on_delete=models.CASCADE, related_name="memberships")
    is_hall_admin = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "hall"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.hall_id}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


STAFF_TOKEN_PREFIX = "hs_"  # noqa: S105 - a prefix, not a secret
DEVICE_TOKEN_PREFIX = "hd_"  # noqa: S105


def new_token(prefix: str) -> str:
    """A random bearer token; its prefix says which table to look it up in."""
    return prefix + secrets.token_urlsafe(32)


class DeviceKind(models.TextChoices):
    KIOSK = "kiosk", _("kiosk")
    DISPLAY = "display", _("display board")


class DeviceToken(models.Model):
    """A kiosk's or display board's credential. Only its hash is stored."""

    hall = models.ForeignKey(Hall, on_delete=models.CASCADE, related_name="device_tokens")
    kind = models.CharField(max_length=10, choices=DeviceKind.choices)
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.hall} · {self.get_kind_display()} · {self.name}"


class StaffToken(models.Model):
    """A bearer token issued by POST /api/v1/auth/token. Only its hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token of {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"
