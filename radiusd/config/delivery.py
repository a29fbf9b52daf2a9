"""The `delivery:` section: how email and SMS codes leave the server.

Templates are checked here, so an unknown placeholder is a configuration error at start-up:
- email subject and body, SMS text: {code} {minutes} {expires} {service} {user}
- HTTP gateway url, header values and body values: {to} {to_digits} {text} {sender} {account} {token}
- command arguments: {to} {text}
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from radiusd.config.types import ExistingFile, Secret, Section
from radiusd.delivery.templates import check, placeholders

MESSAGE_FIELDS = ("code", "minutes", "expires", "service", "user")
GATEWAY_FIELDS = ("to", "to_digits", "text", "sender", "account", "token")
COMMAND_FIELDS = ("to", "text")


class SmtpConfig(Section):
    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)
    """By default 25 (none), 587 (starttls) or 465 (tls)."""
    security: Literal["none", "starttls", "tls"] = "starttls"
    """starttls fails when the server does not offer it: never a silent downgrade to plain text."""
    verify_certificate: bool = True
    ca_file: ExistingFile | None = None
    username: str | None = None
    password: Secret | None = None
    from_address: str = "radiusd@localhost"
    subject: str = "Your login code for {service}"
    body: str = "Your code for {service} is {code}. It expires in {minutes} minutes ({expires})."
    timeout: float = Field(default=10.0, gt=0, description="seconds per attempt")
    retries: int = Field(default=2, ge=0, le=10)

    @field_validator("subject", "body")
    @classmethod
    def _template(cls, value: str) -> str:
        return check(value, MESSAGE_FIELDS)

    @model_validator(mode="after")
    def _auth_pair(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "tls": 465}[self.security]


SmsProvider = Literal["http", "twilio", "vonage", "messagebird", "command"]

# What each provider needs besides the text; the presets fill in URL, body and success criterion.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "http": ("url",),
    "twilio": ("account", "token", "sender"),
    "vonage": ("account", "token", "sender"),
    "messagebird": ("token", "sender"),
    "command": ("command",),
}
_HTTP_ONLY = ("headers", "body", "success_status", "success_json", "success_contains", "basic_auth")


class SmsConfig(Section):
    provider: SmsProvider = "http"
    url: str | None = None
    """http: the gateway's URL. Presets: overrides the provider's API endpoint (region, proxy)."""
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body_format: Literal["form", "json"] = "form"
    body: dict[str, Any] = Field(default_factory=dict)
    """Template of the request body (form fields or a JSON object); query parameters for GET."""
    basic_auth: bool = False
    """Send account and token as HTTP Basic credentials."""
    success_status: list[int] = Field(default_factory=lambda: [200, 201, 202])
    success_json: dict[str, str] = Field(default_factory=dict)
    """Dotted paths into the JSON answer and the value each must have ("messages.0.status": "0")."""
    success_contains: str | None = None
    account: str | None = None
    """Twilio Account SID, Vonage API key, or the generic gateway's user name ({account})."""
    token: Secret | None = None
    """Twilio auth token, Vonage API secret, MessageBird access key, or the gateway's ({token})."""
    sender: str | None = None
    """The From number or alphanumeric sender id ({sender})."""
    command: list[str] = Field(default_factory=list)
    """command: the program and its arguments, run without a shell, e.g.
    [/usr/bin/gammu-smsd-inject, TEXT, "{to}", -text, "{text}"]."""
    text: str = "Your code for {service} is {code}. Valid {minutes} min."
    timeout: float = Field(default=10.0, gt=0, description="seconds per attempt")
    retries: int = Field(default=2, ge=0, le=10)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return check(value, MESSAGE_FIELDS)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            check(value, GATEWAY_FIELDS)
            if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
                raise ValueError(f"not an http:// or https:// URL: {value!r}")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for v in value.values():
            check(v, GATEWAY_FIELDS)
        return value

    @field_validator("body")
    @classmethod
    def _body(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_tree(value)
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str]) -> list[str]:
        for arg in value:
            check(arg, COMMAND_FIELDS)
        if value and not {"to", "text"} <= set().union(*(placeholders(a) for a in value)):
            raise ValueError('the arguments must carry the number "{to}" and the message "{text}"')
        return value

    @model_validator(mode="after")
    def _complete(self) -> SmsConfig:
        missing = [k for k in _REQUIRED[self.provider] if not getattr(self, k)]
        if missing:
            raise ValueError(f"provider {self.provider} needs {', '.join(missing)}")
        if self.provider != "http":
            custom = [k for k in _HTTP_ONLY if k in self.model_fields_set]
            if custom:
                raise ValueError(f"{', '.join(custom)}: only for provider http (presets set their own)")
        if self.provider == "http" and self.method == "GET" and self.body_format == "json":
            raise ValueError("a GET request carries no JSON body: use body_format form (query parameters)")
        return self


def _check_tree(node: Any) -> None:
    """Every string anywhere in a JSON body template may use the gateway placeholders."""
    if isinstance(node, str):
        check(node, GATEWAY_FIELDS)
    elif isinstance(node, dict):
        for v in node.values():
            _check_tree(v)
    elif isinstance(node, list):
        for v in node:
            _check_tree(v)
    elif not isinstance(node, int | float | bool) and node is not None:
        raise ValueError(f"unsupported value in body template: {node!r}")


class DeliveryConfig(Section):
    smtp: SmtpConfig | None = None
    sms: SmsConfig | None = None
    codes_per_user_per_hour: int = Field(default=10, ge=1)
    codes_per_source_per_hour: int = Field(default=30, ge=1)
