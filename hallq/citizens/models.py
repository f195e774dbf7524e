"""Real-name citizens, their sign-in, the booking agreement, violations and the blacklist (§3.4,
§3.8, §3.9, §13).

ID and mobile numbers are stored encrypted (``hallq.common.crypto``) and found through a keyed
hash (a blind index): the ID space is small enough that a plain hash could be enumerated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from hallq.common.crypto import blind_index
from hallq.common.fields import EncryptedTextField


def mobile_index(mobile: str) -> str:
    """The blind index of a normalised mobile number (11 digits)."""
    return blind_index("mobile", mobile)


def id_number_index(id_number: str) -> str:
    """The blind index of a normalised ID number (18 characters, upper-case X)."""
    return blind_index("id_number", id_number)


class Citizen(models.Model):
    """A person who books and takes tickets. Created at the first SMS sign-in (mobile only);
    registration adds the real name and ID number."""

    name = models.CharField(_("name"), max_length=50, blank=True)
    id_number = EncryptedTextField(_("ID number"), blank=True)
    # HMAC-SHA256 of the normalised ID number; unique: one citizen per person.
    id_number_index = models.CharField(max_length=64, null=True, blank=True, unique=True)
    mobile = EncryptedTextField(_("mobile number"))
    mobile_index = models.CharField(max_length=64, unique=True)
    # The booking agreement version this citizen last accepted (0: none), and when: the record
    # of their consent.
    agreement_version = models.PositiveIntegerField(default=0)
    agreement_accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    registered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("citizen")
        verbose_name_plural = _("citizens")

    def __str__(self) -> str:
        return f"citizen {self.pk}"

    @property
    def is_registered(self) -> bool:
        return self.registered_at is not None


class CitizenWechat(models.Model):
    """A WeChat user (an official-account openid) bound to a citizen, who may then sign in from
    the official account without an SMS code. Never a snapshot-page user (§6)."""

    openid = models.CharField(max_length=64, unique=True)
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="wechat_bindings")
    bound_at = models.DateTimeField()

    class Meta:
        verbose_name = _("WeChat binding")
        verbose_name_plural = _("WeChat bindings")

    def __str__(self) -> str:
        return f"WeChat of citizen {self.citizen_id}"


CITIZEN_TOKEN_PREFIX = "hc_"  # noqa: S105 - a prefix, not a secret


class CitizenToken(models.Model):
    """A citizen's bearer token from the SMS sign-in. Only its hash is stored."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token of citizen {self.citizen_id}"


class SignInCode(models.Model):
    """A one-time code sent by SMS. Only a keyed hash of the code is stored.

    ``sequence`` numbers the codes sent to one mobile number (1, 2, 3, …). A new code takes the
    next number after those it saw; two sends at the same moment see the same codes, take the
    same number, and the unique constraint refuses one of them. The rate limit is thus decided
    on every code already sent (docs/concurrency.md).
    """

    mobile_index = models.CharField(max_length=64)
    sequence = models.PositiveIntegerField()
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mobile_index", "sequence"], name="sign_in_code_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"sign-in code {self.sequence}"


class Agreement(models.Model):
    """The booking agreement (预约协议). The highest published version is the current one;
    publishing a new version makes every citizen accept again."""

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(_("title"), max_length=100)
    text = models.TextField(_("text"))
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["-version"]
        verbose_name = _("booking agreement")
        verbose_name_plural = _("booking agreements")

    def __str__(self) -> str:
        return f"v{self.version} {self.title}"


class ViolationKind(models.TextChoices):
    NO_SHOW = "no_show", _("no-show")
    LATE_CANCELLATION = "late_cancellation", _("late cancellation")


class Violation(models.Model):
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="violations")
    kind = models.CharField(max_length=20, choices=ViolationKind.choices)
    # The appointment it comes from (booking.Appointment; an id, since booking sits above us).
    appointment_id = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["citizen", "occurred_at"], name="violation_recent")]
        verbose_name = _("violation")
        verbose_name_plural = _("violations")

    def __str__(self) -> str:
        return f"{self.kind} {self.occurred_at:%Y-%m-%d}"


class BlacklistEntry(models.Model):
    """A citizen may not book until ``ends_at``. Entries end by themselves; an administrator
    may lift one early (``lifted_at``)."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="blacklist")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(_("reason"), max_length=200)
    automatic = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lift_reason = models.CharField(_("reason for lifting"), max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["citizen", "ends_at"], condition=Q(lifted_at=None), name="blacklist_active"
            )
        ]
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist")

    def __str__(self) -> str:
        return f"citizen {self.citizen_id} until {self.ends_at:%Y-%m-%d}"


class PersonalDataAccess(models.Model):
    """The audit of every time a staff member saw a citizen's unmasked personal data (§13)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=20)
    purpose = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")

    def __str__(self) -> str:
        return f"{self.field} of citizen {self.citizen_id} by user {self.user_id}"
