"""Ready HTTP settings for common SMS gateway APIs, and the generic gateway as configured."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from radiusd.config.delivery import SmsConfig


@dataclass(frozen=True, slots=True)
class Gateway:
    url: str
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body_format: Literal["form", "json"] = "form"
    body: dict[str, Any] = field(default_factory=dict)
    basic_auth: bool = False
    success_status: tuple[int, ...] = (200, 201, 202)
    success_json: dict[str, str] = field(default_factory=dict)
    success_contains: str | None = None


PRESETS: dict[str, Gateway] = {
    # https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
    "twilio": Gateway(
        url="https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json",
        body={"To": "{to}", "From": "{sender}", "Body": "{text}"},
        basic_auth=True,
        success_status=(200, 201),
    ),
    # https://developer.vonage.com/en/api/sms: HTTP 200 even on failure; status "0" means sent.
    "vonage": Gateway(
        url="https://rest.nexmo.com/sms/json",
        body={
            "api_key": "{account}",
            "api_secret": "{token}",
            "from": "{sender}",
            "to": "{to_digits}",
            "text": "{text}",
        },
        success_status=(200,),
        success_json={"messages.0.status": "0"},
    ),
    # https://developers.messagebird.com/api/sms-messaging/#send-outbound-sms
    "messagebird": Gateway(
        url="https://rest.messagebird.com/messages",
        headers={"Authorization": "AccessKey {token}"},
        body_format="json",
        body={"originator": "{sender}", "recipients": ["{to_digits}"], "body": "{text}"},
        success_status=(201,),
    ),
}


def gateway(cfg: SmsConfig) -> Gateway:
    """The HTTP request to make for this configuration: a preset (URL overridable) or the generic one."""
    preset = PRESETS.get(cfg.provider)
    if preset is not None:
        return preset if cfg.url is None else replace(preset, url=cfg.url)
    assert cfg.url is not None  # the configuration requires it for provider http
    return Gateway(
        url=cfg.url,
        method=cfg.method,
        headers=dict(cfg.headers),
        body_format=cfg.body_format,
        body=dict(cfg.body),
        basic_auth=cfg.basic_auth,
        success_status=tuple(cfg.success_status),
        success_json=dict(cfg.success_json),
        success_contains=cfg.success_contains,
    )
