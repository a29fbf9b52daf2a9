"""The `engine:`, `rules:`, `lockout:` and `audit:` sections: how decisions are made and recorded."""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator, model_validator

from radiusd.config.types import ConfigPath, Network, Section

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
    """Failures from one source address within the window that block that address."""
    user_threshold: int = Field(default=30, ge=1)
    """Failures for one user (from any address) within the window that lock the user, if lock_user."""
    lock_user: bool = False
    """Lock the user (everywhere) after user_threshold failures; off: only sources are blocked."""
    lock_duration: float = Field(default=900.0, gt=0, description="seconds")
    max_lock_duration: float = Field(default=86400.0, gt=0, description="seconds")
    """Each repeated lock of the same key within a day doubles the duration, up to this."""
    delay_after: int = Field(default=3, ge=0)
    """Failures before a progressive delay starts."""
    max_delay: float = Field(default=2.0, ge=0, description="seconds")
    shared_sources: list[Network] = Field(default_factory=list)
    """Addresses many users share (a NAS that does not report the user's address, a NAT gateway):
    failures from these are counted and blocked per user at that address, so that one user's
    attacker cannot block everybody behind it."""

    @model_validator(mode="after")
    def _source_before_user(self) -> LockoutConfig:
        # One address must be blocked before it alone can lock the user out everywhere.
        if self.lock_user and self.source_threshold >= self.user_threshold:
            raise ValueError("source_threshold must be lower than user_threshold when lock_user is on")
        if self.max_lock_duration < self.lock_duration:
            raise ValueError("max_lock_duration must not be shorter than lock_duration")
        return self


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$")


class TimeWindow(Section):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: list(DAYS), min_length=1
    )
    """Days the window starts on (a window past midnight runs on into the next day)."""
    hours: str = "00:00-24:00"
    """HH:MM-HH:MM, end exclusive; "22:00-06:00" runs past midnight."""
    timezone: str = "UTC"

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        m = _HOURS.match(value)
        if not m or value[:5] == value[6:]:
            raise ValueError(f"expected HH:MM-HH:MM with different start and end, got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone: {value!r}") from None
        return value

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes after midnight (end may be 1440)."""
        start, end = self.hours.split("-")
        return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])


class RuleMatch(Section):
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    clients: list[str] = Field(default_factory=list)
    frontdoors: list[str] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=list)
    """CIDR networks (IPv4 or IPv6); an entry starting with '!' excludes a network. Only
    exclusions: every address but those. A rule with networks never matches an unknown source."""
    time: TimeWindow | None = None

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        out = []
        for entry in value:
            if not isinstance(entry, str):
                raise ValueError("expected CIDR networks as strings")
            bang = "!" if entry.startswith("!") else ""
            try:
                net = ipaddress.ip_network(entry.removeprefix("!").strip(), strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or CIDR network: {entry!r}") from None
            out.append(f"{bang}{net}")
        return out


class ReplyAttributeConfig(Section):
    attribute: str
    value: str | int


class RuleConfig(Section):
    name: str = Field(min_length=1)
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
    """Also append every decision to this file, one JSON object a line."""
    syslog: bool = False
    syslog_address: str = "/dev/log"
    """A Unix socket path, or HOST:PORT for syslog over UDP."""
    syslog_facility: Literal[
        "auth",
        "authpriv",
        "daemon",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ] = "authpriv"
    retention_days: int = Field(default=365, ge=1)
    flush_interval: float = Field(default=0.2, gt=0, le=10, description="seconds")
    """How long a decision may wait in memory before it is written (batched writes)."""
    batch_size: int = Field(default=500, ge=1)

    @field_validator("syslog_address")
    @classmethod
    def _syslog_address(cls, value: str) -> str:
        if not value.startswith("/") and _host_port(value) is None:
            raise ValueError(f"expected a socket path or HOST:PORT, got {value!r}")
        return value


def _host_port(value: str) -> tuple[str, int] | None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def syslog_target(value: str) -> str | tuple[str, int]:
    """The address argument for logging.handlers.SysLogHandler."""
    return value if value.startswith("/") else _host_port(value)  # type: ignore[return-value]


FactorList = list[FactorName]
