"""The SMS vendors' ``SendSms`` as the stand-in answers it (research notes §6).

Both official SDKs post to the endpoint's root; the action is in a header (Aliyun
``x-acs-action``, Tencent ``X-TC-Action``). The signature's algorithm and access key id are
checked, not its HMAC: the point is to exercise our backends, not the vendors' cryptography.

Like a WeChat template message's ``client_msg_id``, a repeated ``OutId`` (Aliyun) or
``SessionContext`` (Tencent) to the same number is accepted once; the real gateways do not
promise this, so hallq's outbox must not send twice in the first place.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from hallq.wechat.sandbox.http import Request, Response, json_response
from hallq.wechat.sandbox.state import FailurePlan, SandboxState

ALIYUN_LIMIT = "isv.BUSINESS_LIMIT_CONTROL"
TENCENT_LIMIT = "LimitExceeded.PhoneNumberDailyLimit"


def is_aliyun(request: Request) -> bool:
    return request.headers.get("x-acs-action") == "SendSms"


def is_tencent(request: Request) -> bool:
    return request.headers.get("x-tc-action") == "SendSms"


def _signed_by(request: Request, algorithm: str, state: SandboxState) -> bool:
    authorization = request.headers.get("authorization", "")
    if not authorization.startswith(algorithm + " Credential="):
        return False
    key_id = authorization.split("Credential=", 1)[1].split("/", 1)[0].split(",", 1)[0]
    expected = state.config.sms_access_key_id
    return not expected or key_id == expected


async def _failure(state: SandboxState) -> FailurePlan | None:
    """A due failure; after a hang that delivers, None (the send goes through)."""
    plan = state.take_failure("sms")
    if plan is not None and plan.timeout_seconds:
        await asyncio.sleep(plan.timeout_seconds)
        if plan.deliver:
            return None
    return plan


def _request_id() -> str:
    return secrets.token_hex(16).upper()


async def aliyun_send(request: Request, state: SandboxState) -> Response:
    if not _signed_by(request, "ACS3-HMAC-SHA256", state):
        return json_response(
            {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
            },
            status=404,
        )
    plan = await _failure(state)
    if plan is not None:
        code = plan.sms_code or ("isp.SYSTEM_ERROR" if plan.timeout_seconds else ALIYUN_LIMIT)
        return json_response({"Code": code, "Message": code, "RequestId": _request_id()})
    query = request.query
    mobile = query.get("PhoneNumbers", "")
    if not (mobile.isdigit() and len(mobile) == 11) or not query.get("TemplateCode"):
        code = (
            "isv.MOBILE_NUMBER_ILLEGAL" if query.get("TemplateCode") else "isv.SMS_TEMPLATE_ILLEGAL"
        )
        return json_response({"Code": code, "Message": code, "RequestId": _request_id()})
    try:
        params = json.loads(query.get("TemplateParam") or "{}")
    except ValueError:
        params = None
    if not isinstance(params, dict):
        return json_response(
            {
                "Code": "isv.INVALID_JSON_PARAM",
                "Message": "JSON参数不合法",
                "RequestId": _request_id(),
            }
        )
    message = state.accept(
        channel="sms",
        to=mobile,
        template_id=query["TemplateCode"],
        data={str(key): str(value) for key, value in params.items()},
        dedup_key=query.get("OutId", ""),
        sign_name=query.get("SignName", ""),
    )
    return json_response(
        {"Code": "OK", "Message": "OK", "BizId": message.vendor_id, "RequestId": _request_id()}
    )


def _tencent_answer(response: dict[str, Any]) -> Response:
    # The SDK looks for errors only when the type is exactly this, as Tencent sends it.
    return json_response({"Response": response}, content_type="application/json")


def _tencent_error(code: str, message: str) -> Response:
    return _tencent_answer(
        {"Error": {"Code": code, "Message": message}, "RequestId": _request_id()}
    )


def _tencent_status(mobile: str, context: str, code: str, serial: str = "") -> dict[str, Any]:
    return {
        "SerialNo": serial,
        "PhoneNumber": mobile,
        "Fee": 1 if code == "Ok" else 0,
        "SessionContext": context,
        "Code": code,
        "Message": "send success" if code == "Ok" else code,
        "IsoCode": "CN",
    }


async def tencent_send(request: Request, state: SandboxState) -> Response:
    if not _signed_by(request, "TC3-HMAC-SHA256", state):
        return _tencent_error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
    body = request.json()
    if not isinstance(body, dict) or not isinstance(body.get("PhoneNumberSet"), list):
        return _tencent_error("InvalidParameter", "PhoneNumberSet")
    if not body.get("TemplateId") or not body.get("SmsSdkAppId"):
        return _tencent_error("MissingParameter", "TemplateId/SmsSdkAppId")
    context = str(body.get("SessionContext") or "")
    params = [str(value) for value in body.get("TemplateParamSet") or []]
    statuses = []
    for number in body["PhoneNumberSet"]:
        mobile = str(number).removeprefix("+86")
        plan = await _failure(state)
        if plan is not None:
            code = plan.sms_code or (
                "InternalError.Timeout" if plan.timeout_seconds else TENCENT_LIMIT
            )
            statuses.append(_tencent_status(str(number), context, code))
            continue
        if not (mobile.isdigit() and len(mobile) == 11):
            statuses.append(
                _tencent_status(str(number), context, "InvalidParameterValue.IncorrectPhoneNumber")
            )
            continue
        message = state.accept(
            channel="sms",
            to=mobile,
            template_id=str(body["TemplateId"]),
            # Tencent's parameters are ordered; the phone view shows them numbered from 1.
            data={str(index): value for index, value in enumerate(params, start=1)},
            dedup_key=context,
            sign_name=str(body.get("SignName") or ""),
        )
        statuses.append(_tencent_status(str(number), context, "Ok", message.vendor_id))
    return _tencent_answer({"SendStatusSet": statuses, "RequestId": _request_id()})
