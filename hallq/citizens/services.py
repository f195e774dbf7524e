"""Every change to citizens: SMS sign-in, registration, the booking agreement, violations and the
blacklist (§3.4, §3.8, §3.9, §13). Each call is one transaction.

Decisions that depend on what is stored are made atomically: the sign-in code rate limit by the
unique sequence of a mobile number's codes, a code's single use by a conditional update, one
citizen per mobile number and per ID number by unique indexes, and the blacklist rule under the
citizen's row lock (``locks.py``).
"""

from __future__ import annotations

import logging
import math
import secrets
import unicodedata
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, Q
from django.utils import translation
from django.utils.translation import gettext as _

from hallq.citizens.domain.blacklist import BlacklistPolicy, blacklist_ends_at
from hallq.citizens.domain.identity import (
    IdentityError,
    mask_mobile,
    validate_id_number,
    validate_mobile,
)
from hallq.citizens.locks import lock_citizen
from hallq.citizens.models import (
    CITIZEN_TOKEN_PREFIX,
    Agreement,
    BlacklistEntry,
    Citizen,
    CitizenToken,
    PersonalDataAccess,
    SignInCode,
    Violation,
    ViolationKind,
    id_number_index,
    mobile_index,
)
from hallq.citizens.selectors import (
    blacklisted_until,
    current_agreement,
    current_agreement_version_forget,
    signed_in_citizen_forget,
)
from hallq.common import sms
from hallq.common.crypto import blind_index
from hallq.common.errors import Conflict, HallqError, InvalidInput
from hallq.halls.models import hash_token, new_token

logger = logging.getLogger(__name__)

SIGN_IN_CODE_DIGITS = 6
SIGN_IN_CODE_LIFETIME = timedelta(minutes=5)
SIGN_IN_CODE_INTERVAL = timedelta(seconds=60)
SIGN_IN_CODES_PER_DAY = 10
SIGN_IN_CODE_ATTEMPTS = 5
CITIZEN_TOKEN_LIFETIME = timedelta(days=30)
NAME_MAX_LENGTH = 50
AGREEMENT_TITLE_MAX_LENGTH = 100
REASON_MAX_LENGTH = 200
BLACKLIST_MAX_DAYS = 3650

PersonalDataField = Literal["id_number", "mobile"]
PERSONAL_DATA_FIELDS: frozenset[str] = frozenset({"id_number", "mobile"})


class TooManyRequests(HallqError):
    status = 429
    code = "too_many_requests"


def identity_message(code: str) -> str:
    """What to tell a citizen whose ID or mobile number failed the check ``code``."""
    messages = {
        "mobile_format": _("Enter a mainland China mobile number of 11 digits."),
        "id_format": _("An ID number has 18 characters: 17 digits, then a digit or X."),
        "id_province": _("This ID number does not begin with a province code."),
        "id_birth_date": _("The birth date in this ID number is not a valid date."),
        "id_check_digit": _(
            "The last character of this ID number (its check digit) does not match; "
            "please check the number."
        ),
    }
    return messages[code]


def checked_id_number(text: str, *, today: date) -> str:
    """The normalised ID number, or InvalidInput saying what is wrong with it."""
    try:
        return validate_id_number(text, today=today)
    except IdentityError as error:
        raise InvalidInput(identity_message(error.code), code=error.code) from None


def _valid_mobile(text: str) -> str:
    try:
        return validate_mobile(text)
    except IdentityError as error:
        raise InvalidInput(identity_message(error.code), code=error.code) from None


def _local_midnight(now: datetime) -> datetime:
    zone = ZoneInfo(settings.TIME_ZONE)
    return datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)


def _code_hash(mobile: str, code: str) -> str:
    return blind_index("sign-in-code", f"{mobile}:{code}")


def _too_soon(wait: timedelta) -> TooManyRequests:
    seconds = max(math.ceil(wait.total_seconds()), 1)
    return TooManyRequests(
        _("A code was sent less than a minute ago. Try again in %(seconds)d seconds.")
        % {"seconds": seconds},
        code="sign_in_code_too_soon",
    )


def sign_in_code_send(*, mobile: str, now: datetime) -> None:
    """Send a 6-digit sign-in code by SMS: at most one a minute and ten a day per number."""
    mobile = _valid_mobile(mobile)
    index = mobile_index(mobile)
    code = f"{secrets.randbelow(10**SIGN_IN_CODE_DIGITS):0{SIGN_IN_CODE_DIGITS}d}"
    with transaction.atomic():
        # One statement, so one snapshot: the sequence and the limits are read together.
        sent = SignInCode.objects.filter(mobile_index=index).aggregate(
            last_sequence=Max("sequence"),
            last_sent_at=Max("created_at"),
            sent_today=Count("pk", filter=Q(created_at__gte=_local_midnight(now))),
        )
        last_sent_at = sent["last_sent_at"]
        if last_sent_at is not None and now - last_sent_at < SIGN_IN_CODE_INTERVAL:
            raise _too_soon(SIGN_IN_CODE_INTERVAL - (now - last_sent_at))
        if sent["sent_today"] >= SIGN_IN_CODES_PER_DAY:
            raise TooManyRequests(
                _("Too many codes were sent to this number today. Try again tomorrow."),
                code="sign_in_code_daily_limit",
            )
        try:
            with transaction.atomic():
                row = SignInCode.objects.create(
                    mobile_index=index,
                    sequence=(sent["last_sequence"] or 0) + 1,
                    code_hash=_code_hash(mobile, code),
                    created_at=now,
                    expires_at=now + SIGN_IN_CODE_LIFETIME,
                )
        except IntegrityError:
            # Another code for this number was being sent at the same moment.
            raise _too_soon(SIGN_IN_CODE_INTERVAL) from None
        transaction.on_commit(partial(_deliver_sign_in_code, mobile, code, row.pk))


def _deliver_sign_in_code(mobile: str, code: str, code_id: int) -> None:
    # Runs after commit: a failure here cannot undo the code, and the citizen may ask again.
    # Neither the number nor the code is logged.
    try:
        result = sms.get_backend().send(
            mobile, "sign_in_code", {"code": code}, out_id=f"sign-in-code-{code_id}"
        )
    except Exception as error:
        logger.error("sending sign-in code %s failed: %s", code_id, type(error).__name__)
        return
    if not result.ok:
        logger.error("sending sign-in code %s failed: %s", code_id, result.error_code)


def sign_in(*, mobile: str, code: str, now: datetime) -> tuple[Citizen, str]:
    """Exchange a code sent by SMS for a citizen token; the first sign-in creates the citizen.

    Any unexpired code of the number may be entered (SMS arrive late and out of order), each
    once. A wrong code counts one attempt against every live code of the number; after five a
    code is dead.
    """
    mobile = _valid_mobile(mobile)
    index = mobile_index(mobile)
    typed = "".join(unicodedata.normalize("NFKC", code).split())
    with transaction.atomic():
        live = SignInCode.objects.filter(
            mobile_index=index,
            used_at=None,
            expires_at__gt=now,
            attempts__lt=SIGN_IN_CODE_ATTEMPTS,
        )
        used = live.filter(code_hash=_code_hash(mobile, typed)).update(
            used_at=now, attempts=F("attempts") + 1
        )
        if used:
            citizen = _citizen_for_mobile(mobile, index, now)
            return citizen, citizen_token_issue(citizen=citizen, now=now)
        # Committed although the sign-in fails: a wrong guess must count.
        tried = live.update(attempts=F("attempts") + 1)
    if tried:
        raise InvalidInput(
            _("The code is wrong. Check the SMS and try again."), code="sign_in_code_wrong"
        )
    raise InvalidInput(
        _(
            "There is no valid code for this number: it has expired, has been used or was "
            "entered wrongly too often. Ask for a new code."
        ),
        code="sign_in_code_invalid",
    )


def _citizen_for_mobile(mobile: str, index: str, now: datetime) -> Citizen:
    citizen = Citizen.objects.filter(mobile_index=index).first()
    if citizen is not None:
        return citizen
    # Two first sign-ins at once: the unique mobile index keeps one row, and the other insert
    # does nothing (on PostgreSQL it waits for the first to commit).
    Citizen.objects.bulk_create(
        [Citizen(mobile=mobile, mobile_index=index, created_at=now)], ignore_conflicts=True
    )
    return Citizen.objects.get(mobile_index=index)


def citizen_token_issue(*, citizen: Citizen, now: datetime) -> str:
    """A new bearer token for the citizen (30 days); only its hash is stored."""
    token = new_token(CITIZEN_TOKEN_PREFIX)
    CitizenToken.objects.create(
        citizen=citizen,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=now + CITIZEN_TOKEN_LIFETIME,
    )
    return token


def citizen_token_revoke(*, token: str) -> None:
    CitizenToken.objects.filter(token_hash=hash_token(token)).delete()
    signed_in_citizen_forget(token)


# How long a sign-in code is kept: the daily limit counts the codes sent since the local
# midnight, so two days cover it in any time zone.
SIGN_IN_CODES_KEPT = timedelta(days=2)


def sign_in_records_prune(*, now: datetime) -> int:
    """Delete what signing in no longer needs (a worker job, hourly): codes older than the limits
    look back, and citizen tokens past their expiry. Each code row is a keyed hash of a mobile
    number; kept, it would only tell who asked for codes when."""
    codes, _deleted = SignInCode.objects.filter(created_at__lt=now - SIGN_IN_CODES_KEPT).delete()
    tokens, _deleted = CitizenToken.objects.filter(expires_at__lte=now).delete()
    return codes + tokens


def _valid_name(text: str) -> str:
    name = text.strip()
    if not 1 <= len(name) <= NAME_MAX_LENGTH or not name.isprintable():
        raise InvalidInput(
            _("Enter your real name (1 to %(max)d characters).") % {"max": NAME_MAX_LENGTH},
            code="name",
        )
    return name


def citizen_register(*, citizen: Citizen, name: str, id_number: str, now: datetime) -> Citizen:
    """Give the citizen their real name and ID number. The name may be corrected later; the ID
    number, once registered, may not be changed (only by staff, for a proven mistake)."""
    name = _valid_name(name)
    today = now.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    number = checked_id_number(id_number, today=today)
    index = id_number_index(number)
    with transaction.atomic():
        locked = lock_citizen(citizen.pk)
        if locked.id_number_index is not None and locked.id_number_index != index:
            raise Conflict(
                _(
                    "Your ID number is already registered and cannot be changed. Contact the "
                    "service hall to correct it."
                ),
                code="id_number_fixed",
            )
        locked.name = name
        if locked.id_number_index is None:
            locked.id_number = number
            locked.id_number_index = index
            locked.registered_at = now
        try:
            with transaction.atomic():
                locked.save(update_fields=["name", "id_number", "id_number_index", "registered_at"])
        except IntegrityError:
            raise _id_number_taken(index) from None
    return locked


def _id_number_taken(index: str) -> Conflict:
    holder = Citizen.objects.filter(id_number_index=index).first()
    mobile = mask_mobile(holder.mobile) if holder is not None else "-"
    return Conflict(
        _(
            "This ID number is already registered with the mobile number %(mobile)s. Sign in "
            "with that number, or ask the service hall for help."
        )
        % {"mobile": mobile},
        code="id_number_taken",
    )


def agreement_publish(*, title: str, text: str, now: datetime) -> Agreement:
    """Publish a new version of the booking agreement; every citizen must accept it again."""
    title, text = title.strip(), text.strip()
    if not 1 <= len(title) <= AGREEMENT_TITLE_MAX_LENGTH or not text:
        raise InvalidInput(
            _("An agreement needs a title (up to %(max)d characters) and a text.")
            % {"max": AGREEMENT_TITLE_MAX_LENGTH},
            code="agreement",
        )
    with transaction.atomic():
        last = Agreement.objects.aggregate(last=Max("version"))["last"] or 0
        try:
            with transaction.atomic():
                agreement = Agreement.objects.create(
                    version=last + 1, title=title, text=text, published_at=now
                )
                transaction.on_commit(current_agreement_version_forget)
                return agreement
        except IntegrityError:
            raise Conflict(
                _("Another version of the agreement was published at the same moment. Try again."),
                code="agreement_version_taken",
            ) from None


def agreement_accept(*, citizen: Citizen, version: int, now: datetime) -> Citizen:
    """Record that the citizen accepted ``version``, which must be the current one."""
    is_published = Exists(Agreement.objects.filter(version=version))
    is_superseded = Exists(Agreement.objects.filter(version__gt=version))
    accepted = (
        Citizen.objects.filter(is_published, pk=citizen.pk)
        .exclude(is_superseded)
        .update(agreement_version=version, agreement_accepted_at=now)
    )
    if not accepted:
        current = current_agreement()
        if current is None:
            raise Conflict(_("No booking agreement has been published."), code="no_agreement")
        raise Conflict(
            _("Only the current booking agreement (version %(version)d) can be accepted.")
            % {"version": current.version},
            code="agreement_not_current",
        )
    return Citizen.objects.get(pk=citizen.pk)


def blacklist_policy() -> BlacklistPolicy:
    return BlacklistPolicy(
        violations=settings.HALLQ_BLACKLIST_VIOLATIONS,
        window=timedelta(days=settings.HALLQ_BLACKLIST_WINDOW_DAYS),
        duration=timedelta(days=settings.HALLQ_BLACKLIST_DAYS),
    )


def violation_record(
    *, citizen: Citizen, kind: ViolationKind, appointment_id: int, now: datetime
) -> BlacklistEntry | None:
    """Count a no-show or late cancellation; blacklist the citizen when it makes N in the window.

    Called by the booking app inside its transaction, after it took ``lock_citizen`` (taken again
    here, which is free, so that the rule is decided under the lock whoever calls). A second
    call for the same appointment records nothing. Returns the automatic blacklist entry it
    created, if any.
    """
    with transaction.atomic():
        lock_citizen(citizen.pk)
        _violation, created = Violation.objects.get_or_create(
            appointment_id=appointment_id,
            defaults={"citizen_id": citizen.pk, "kind": kind, "occurred_at": now},
        )
        if not created:
            return None
        policy = blacklist_policy()
        recent = Violation.objects.filter(
            citizen_id=citizen.pk, occurred_at__gt=now - policy.window, occurred_at__lte=now
        ).values_list("occurred_at", flat=True)
        ends_at = blacklist_ends_at(list(recent), now, policy=policy)
        if ends_at is None or blacklisted_until(citizen_id=citizen.pk, now=now) is not None:
            return None
        # Stored for administrators, in the product's language rather than the caller's.
        with translation.override(settings.LANGUAGE_CODE):
            reason = _("%(count)d violations within %(days)d days") % {
                "count": policy.violations,
                "days": policy.window.days,
            }
        return BlacklistEntry.objects.create(
            citizen_id=citizen.pk, starts_at=now, ends_at=ends_at, reason=reason, automatic=True
        )


def _valid_reason(text: str) -> str:
    reason = text.strip()
    if not 1 <= len(reason) <= REASON_MAX_LENGTH:
        raise InvalidInput(
            _("Give a reason (up to %(max)d characters).") % {"max": REASON_MAX_LENGTH},
            code="reason",
        )
    return reason


def blacklist_add(
    *, citizen: Citizen, days: int, reason: str, by_user_id: int, now: datetime
) -> BlacklistEntry:
    """An administrator blacklists a citizen by hand for ``days`` days from now."""
    reason = _valid_reason(reason)
    if not 1 <= days <= BLACKLIST_MAX_DAYS:
        raise InvalidInput(
            _("A blacklisting lasts from 1 to %(max)d days.") % {"max": BLACKLIST_MAX_DAYS},
            code="blacklist_days",
        )
    with transaction.atomic():
        lock_citizen(citizen.pk)
        return BlacklistEntry.objects.create(
            citizen_id=citizen.pk,
            starts_at=now,
            ends_at=now + timedelta(days=days),
            reason=reason,
            automatic=False,
            created_by_id=by_user_id,
        )


def blacklist_lift(
    *, entry: BlacklistEntry, reason: str, by_user_id: int, now: datetime
) -> BlacklistEntry:
    """An administrator ends a blacklisting early."""
    reason = _valid_reason(reason)
    lifted = BlacklistEntry.objects.filter(pk=entry.pk, lifted_at=None, ends_at__gt=now).update(
        lifted_at=now, lifted_by_id=by_user_id, lift_reason=reason
    )
    if not lifted:
        raise Conflict(
            _("This blacklist entry has already been lifted or has ended."),
            code="blacklist_entry_over",
        )
    return BlacklistEntry.objects.get(pk=entry.pk)


def personal_data_reveal(
    *, user_id: int, citizen: Citizen, field: PersonalDataField, purpose: str, now: datetime
) -> str:
    """A staff member's look at a citizen's unmasked ID or mobile number, audited (§13).

    Whether this staff member may look at all (their halls) is the caller's check.
    """
    if field not in PERSONAL_DATA_FIELDS:
        raise InvalidInput(
            _("Only the ID number or the mobile number can be revealed."), code="field"
        )
    purpose = purpose.strip()
    if not 1 <= len(purpose) <= REASON_MAX_LENGTH:
        raise InvalidInput(
            _("Say why you need to see this citizen's personal data."), code="purpose"
        )
    PersonalDataAccess.objects.create(
        user_id=user_id, citizen_id=citizen.pk, field=field, purpose=purpose, at=now
    )
    value: str = getattr(citizen, field)
    return value
