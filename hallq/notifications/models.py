"""The outbox of notifications to citizens (§5), their delivery attempts, and who follows the
official account."""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hallq.common.fields import EncryptedTextField


class NotificationKind(StrEnum):
    BOOKING_CONFIRMED = "booking_confirmed"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_REMINDER = "booking_reminder"
    PRE_CALL = "pre_call"
    CALL = "call"
    RECALL = "recall"
    NO_SHOW = "no_show"
    APPOINTMENT_NO_SHOW = "appointment_no_show"
    BLACKLISTED = "blacklisted"
    EVALUATION = "evaluation"


class SubjectType(models.TextChoices):
    TICKET = "ticket", _("ticket")
    APPOINTMENT = "appointment", _("appointment")
    CITIZEN = "citizen", _("citizen")


class NotificationState(models.TextChoices):
    PENDING = "pending", _("pending")
    # Claimed by a worker until ``leased_until``; afterwards any worker may claim it again.
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class DeliveryChannel(models.TextChoices):
    WECHAT_TEMPLATE = "wechat_template", _("WeChat template message")
    WECHAT_SUBSCRIBE = "wechat_subscribe", _("WeChat subscription message")
    SMS = "sms", _("SMS")


DUE_STATES = (NotificationState.PENDING, NotificationState.SENDING)


class Notification(models.Model):
    """One message to one citizen about one thing that happened, delivered at most once.

    The unique (subject, kind, occurrence) makes enqueueing idempotent: the change that causes
    a notification may be retried, or observed by several consumers, and still send one.
    """

    subject_type = models.CharField(_("subject type"), max_length=12, choices=SubjectType.choices)
    subject_id = models.BigIntegerField(_("subject id"))
    kind = models.CharField(
        _("kind"), max_length=24, choices=[(kind.value, kind.value) for kind in NotificationKind]
    )
    # 0 unless the same kind repeats for one subject, e.g. the recall's number.
    occurrence = models.PositiveIntegerField(_("occurrence"), default=0)
    hall = models.ForeignKey(
        "halls.Hall",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("hall"),
    )
    openid = models.CharField(_("openid"), max_length=64, blank=True)
    mobile = EncryptedTextField(_("mobile number"), blank=True)
    # The template fields (never an ID number).
    data = models.JSONField(_("data"), default=dict)

    state = models.CharField(
        _("state"),
        max_length=8,
        choices=NotificationState.choices,
        default=NotificationState.PENDING,
    )
    # Delivery rounds begun: each claim by a worker counts one, whatever it then tried.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When a worker may claim it: the next try of a pending row, the lease's end of a sending one.
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    leased_until = models.DateTimeField(_("leased until"), null=True, blank=True)
    # Names the claim that holds the lease: a worker whose lease ran out and was taken over
    # cannot overwrite the result of the worker that took it.
    lease_token = models.CharField(max_length=32, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    channel = models.CharField(
        _("delivered by"), max_length=16, choices=DeliveryChannel.choices, blank=True
    )
    created_at = models.DateTimeField(_("created at"))
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "kind", "occurrence"],
                name="notification_once_per_subject_kind",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=DUE_STATES),
                name="notification_due",
            ),
            models.Index(fields=["hall", "created_at"], name="notification_hall_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type} {self.subject_id}#{self.occurrence}"


class DeliveryAttempt(models.Model):
    """One try on one channel: what the administrator reads when a notification fails."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    # Empty when the worker stopped before it could record which channel it was trying.
    channel = models.CharField(
        _("channel"), max_length=16, choices=DeliveryChannel.choices, blank=True
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"))
    ok = models.BooleanField(_("ok"))
    errcode = models.CharField(_("error code"), max_length=64, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["started_at", "pk"]

    def __str__(self) -> str:
        return f"{self.channel or '?'} {'ok' if self.ok else self.errcode}"


class WechatFollower(models.Model):
    """Whether an openid follows the official account: template messages reach only followers.
    Kept by the callback's subscribe and unsubscribe events."""

    openid = models.CharField(_("openid"), max_length=64, unique=True)
    subscribed = models.BooleanField(_("subscribed"))
    subscribed_at = models.DateTimeField(_("subscribed at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeChat follower")
        verbose_name_plural = _("WeChat followers")

    def __str__(self) -> str:
        return self.openid
