"""/api/v1: the citizen's SMS sign-in, real-name profile and booking agreement (§3.4, §7).

ID and mobile numbers leave only masked (§13).
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from hallq.citizens import services
from hallq.citizens.auth import CitizenAuth, bearer_token, citizen_of
from hallq.citizens.domain.identity import mask_id_number, mask_mobile
from hallq.citizens.models import Citizen
from hallq.citizens.selectors import (
    blacklisted_until,
    current_agreement,
    current_agreement_version,
)
from hallq.common import clock
from hallq.common.api import ERRORS, ErrorOut
from hallq.common.errors import NotFound

router = Router(tags=["citizens"])
citizen_auth = CitizenAuth()

LIMITED = {**ERRORS, 429: ErrorOut}


class SignInCodeIn(Schema):
    mobile: str = Field(max_length=30, examples=["13812345678"])


class SignInIn(Schema):
    mobile: str = Field(max_length=30, examples=["13812345678"])
    code: str = Field(max_length=20, examples=["123456"])


class SignInOut(Schema):
    token: str
    registered: bool
    agreement_version_required: int = Field(
        description="The agreement version the citizen must accept before booking; "
        "0 when nothing is to be accepted."
    )


class ProfileOut(Schema):
    name: str
    id_number_masked: str | None = Field(examples=["110101********4514"])
    mobile_masked: str = Field(examples=["138****5678"])
    registered: bool
    agreement_version: int
    current_agreement_version: int = Field(description="0 when none has been published.")
    blacklisted_until: datetime | None


class ProfileIn(Schema):
    name: str = Field(max_length=100)
    id_number: str = Field(max_length=40)


class AgreementOut(Schema):
    version: int
    title: str
    text: str


class AgreementAcceptIn(Schema):
    version: int


def profile_view(citizen: Citizen, now: datetime) -> ProfileOut:
    return ProfileOut(
        name=citizen.name,
        id_number_masked=mask_id_number(citizen.id_number) if citizen.id_number else None,
        mobile_masked=mask_mobile(citizen.mobile),
        registered=citizen.is_registered,
        agreement_version=citizen.agreement_version,
        current_agreement_version=current_agreement_version(),
        blacklisted_until=blacklisted_until(citizen_id=citizen.pk, now=now),
    )


@router.post("/citizen/sign-in/code", response={202: None, **LIMITED}, auth=None)
def sign_in_code(request: HttpRequest, body: SignInCodeIn) -> Status[None]:
    """Send a sign-in code by SMS (valid 5 minutes; one a minute, ten a day per number)."""
    services.sign_in_code_send(mobile=body.mobile, now=clock.now())
    return Status(202, None)


@router.post("/citizen/sign-in", response={200: SignInOut, **ERRORS}, auth=None)
def sign_in(request: HttpRequest, body: SignInIn) -> SignInOut:
    """Exchange the SMS code for a citizen bearer token (30 days). The first sign-in of a
    mobile number creates the citizen."""
    citizen, token = services.sign_in(mobile=body.mobile, code=body.code, now=clock.now())
    current = current_agreement_version()
    return SignInOut(
        token=token,
        registered=citizen.is_registered,
        agreement_version_required=current if citizen.agreement_version != current else 0,
    )


@router.get("/citizen/profile", response={200: ProfileOut, **ERRORS}, auth=citizen_auth)
def profile_get(request: HttpRequest) -> ProfileOut:
    """The signed-in citizen's profile, with ID and mobile numbers masked."""
    return profile_view(citizen_of(request), clock.now())


@router.put("/citizen/profile", response={200: ProfileOut, **ERRORS}, auth=citizen_auth)
def profile_put(request: HttpRequest, body: ProfileIn) -> ProfileOut:
    """Register the real name and ID number. The name may be corrected later, the ID number
    not."""
    now = clock.now()
    citizen = services.citizen_register(
        citizen=citizen_of(request), name=body.name, id_number=body.id_number, now=now
    )
    return profile_view(citizen, now)


@router.get("/agreement", response={200: AgreementOut, **ERRORS}, auth=None)
def agreement_get(request: HttpRequest) -> AgreementOut:
    """The current booking agreement (预约协议)."""
    agreement = current_agreement()
    if agreement is None:
        raise NotFound(_("No booking agreement has been published."), code="no_agreement")
    return AgreementOut(version=agreement.version, title=agreement.title, text=agreement.text)


@router.post("/citizen/agreement", response={200: ProfileOut, **ERRORS}, auth=citizen_auth)
def agreement_accept(request: HttpRequest, body: AgreementAcceptIn) -> ProfileOut:
    """Accept the current booking agreement (its version, as read from GET /agreement)."""
    now = clock.now()
    citizen = services.agreement_accept(citizen=citizen_of(request), version=body.version, now=now)
    return profile_view(citizen, now)


@router.post("/citizen/sign-out", response={204: None, **ERRORS}, auth=citizen_auth)
def sign_out(request: HttpRequest) -> Status[None]:
    """End this token's session."""
    services.citizen_token_revoke(token=bearer_token(request))
    return Status(204, None)
