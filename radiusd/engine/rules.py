"""Rules: which users, groups, clients and networks need which factors. First match by priority."""

from __future__ import annotations

from dataclasses import dataclass, field

from radiusd.config.engine import ChallengeSettings, LockoutConfig, RuleConfig
from radiusd.engine.types import ReplyAttribute


@dataclass(frozen=True, slots=True)
class Subject:
    """What a rule can look at, known before any secret is checked."""

    user: str
    groups: frozenset[str]
    client: str
    frontdoor: str
    source: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Requirement:
    """What the matching rule asks of this login."""

    rule: str
    action: str  # require | skip | deny
    factors: frozenset[str] | None
    code_only: bool
    enrolment_grace: float
    challenge: ChallengeSettings
    lockout: LockoutConfig
    reply: tuple[ReplyAttribute, ...] = field(default=())


class Policy:
    def __init__(self, rules: list[RuleConfig], challenge: ChallengeSettings, lockout: LockoutConfig) -> None:
        self.rules = sorted(rules, key=lambda r: r.priority)
        self.challenge = challenge
        self.lockout = lockout

    def match(self, subject: Subject) -> Requirement:
        # Placeholder until rule matching lands: everyone needs the second factor.
        return Requirement("default", "require", None, False, 0.0, self.challenge, self.lockout)
