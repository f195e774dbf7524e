"""The openid proof: what an H5 page holds after WeChat's OAuth to show who its user is.

A signed, timestamped value (``django.core.signing``) valid 10 minutes: long enough to sign in
or bind, short enough that a leaked one is soon worthless. Snapshot-page users (朋友圈快照页,
``is_snapshotuser=1``) never get one: their openid is not the person's own.
"""

from __future__ import annotations

from django.core import signing
from django.utils.translation import gettext as _

from hallq.common.errors import Forbidden

PROOF_SALT = "hallq.officialaccount.openid-proof"
PROOF_MAX_AGE_SECONDS = 600


def openid_proof(openid: str) -> str:
    return signing.dumps(openid, salt=PROOF_SALT, compress=False)


def openid_from_proof(proof: str) -> str:
    """The openid a proof vouches for; Forbidden when it is forged or more than 10 minutes old."""
    try:
        openid = signing.loads(proof, salt=PROOF_SALT, max_age=PROOF_MAX_AGE_SECONDS)
    except signing.BadSignature:
        raise Forbidden(
            _("The WeChat sign-in has expired or is not valid. Open the page from WeChat again."),
            code="bad_wechat_proof",
        ) from None
    if not isinstance(openid, str) or not openid:
        raise Forbidden(_("The WeChat sign-in is not valid."), code="bad_wechat_proof")
    return openid
