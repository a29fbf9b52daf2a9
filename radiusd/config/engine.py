"""The `engine:`, `rules:`, `lockout:` and `audit:` sections: how decisions are made and recorded."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from radiusd.config.types import ConfigPath, Section

FactorName = Literal["totp", "hotp", "yubikey", "backup", "email", "sms", "questions", "webauthn"]


class EngineConfig(Section):
    challenge_on_password_only: bool = True
    """A user with a token who sends the password alone gets a challenge asking for the code."""
    separator: str | None = ","
    """Optional separator between password and code ("secret,123456"); None to turn off."""
    totp_window: int = Field(default=1, ge=0, le=10)
    hotp_window: int = Field(default=10, ge=1, le=1000)
    hotp_resync_window: int = Field(default=1000, ge=10)
    backend_timeout: float = Field(default=5.0, gt=0)
    challenge_prompt: str = "Enter your one-time code"


class ChallengeSettings(Section):
    code_length: int = Field(default=6, ge=4, le=12)
    validity: float = Field(default=300.0, gt=0, description="seconds")
    attempts: int = Field(default=3, ge=1)


class LockoutConfig(Section):
    window: float = Field(default=900.0, gt=0, description="seconds of the sliding window")
    source_threshold: int = Field(default=10, ge=1)
    user_threshold: int = Field(default=10, ge=1)
    lock_user: bool = False
    """Lock the user (everywhere) after user_threshold failures; off: only sources are blocked."""
    lock_duration: float = Field(default=900.0, gt=0, description="seconds")
    delay_after: int = Field(default=3, ge=0)
    """Failures before a progressive delay starts."""
    max_delay: float = Field(default=2.0, ge=0, description="seconds")


class TimeWindow(Section):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    )
    hours: str = "00:00-24:00"
    timezone: str = "UTC"


class RuleMatch(Section):
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    clients: list[str] = Field(default_factory=list)
    frontdoors: list[str] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=list)
    """CIDR networks; an entry starting with '!' excludes a network."""
    time: TimeWindow | None = None


class ReplyAttributeConfig(Section):
    attribute: str
    value: str | int


class RuleConfig(Section):
    name: str
    priority: int = 100
    match: RuleMatch = RuleMatch()
    action: Literal["require", "skip", "deny"] = "require"
    """require: password and second factor; skip: password alone; deny: always reject."""
    factors: list[FactorName] | None = None
    """Limit the second factors allowed; None allows every enrolled one."""
    code_only: bool = False
    """The user sends only the code (first factor 'none')."""
    enrolment_grace: float = Field(
        default=0.0, ge=0, description="seconds a new user may pass without a token"
    )
    challenge: ChallengeSettings | None = None
    lockout: LockoutConfig | None = None
    reply: list[ReplyAttributeConfig] = Field(default_factory=list)


class AuditConfig(Section):
    jsonl_file: ConfigPath | None = None
    syslog: bool = False
    syslog_address: str = "/dev/log"
    retention_days: int = Field(default=365, ge=1)


FactorList = list[FactorName]
