"""The `delivery:` section: how email and SMS codes leave the server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from radiusd.config.types import Secret, Section


class SmtpConfig(Section):
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: Secret | None = None
    from_address: str = "radiusd@localhost"
    subject: str = "Your login code"
    body: str = "Your code for {service} is {code}. It expires in {minutes} minutes."
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)


class SmsConfig(Section):
    provider: Literal["http", "twilio", "vonage", "command"] = "http"
    url: str | None = None
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body_format: Literal["form", "json"] = "form"
    body: dict[str, str] = Field(default_factory=dict)
    success_status: list[int] = Field(default_factory=lambda: [200, 201, 202])
    success_contains: str | None = None
    account: str | None = None
    token: Secret | None = None
    sender: str | None = None
    command: list[str] = Field(default_factory=list)
    text: str = "Your code for {service} is {code}"
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)


class DeliveryConfig(Section):
    smtp: SmtpConfig | None = None
    sms: SmsConfig | None = None
    codes_per_user_per_hour: int = Field(default=10, ge=1)
    codes_per_source_per_hour: int = Field(default=30, ge=1)
