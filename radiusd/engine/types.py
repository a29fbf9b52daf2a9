"""What every front door hands the engine, and what it gets back.

A front door (RADIUS, PAM helper, LDAP bind proxy, Crowd REST, HTTP) only translates its protocol
into an AuthRequest and a Decision back into its protocol; it never decides.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

# A reply attribute as the front door should emit it: (dictionary name, value).
ReplyAttribute = tuple[str, str | int | bytes]


@dataclass(frozen=True, slots=True)
class AuthRequest:
    user: str
    secret: str
    """What the user typed: a password, password+code, a code alone, or the answer to a challenge."""
    frontdoor: str
    """Which front door asks: "radius", "pam", "ldap", "crowd", "http", "cli"."""
    client: str
    """The RADIUS client's or the application's configured name."""
    source: str | None = None
    """The address the rules see (already resolved by the front door per its trust settings)."""
    state: bytes | None = None
    """The challenge state from an earlier Decision, when this request answers a challenge."""
    code: str | None = None
    """A code the front door received apart from the password (OpenVPN static challenge)."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """Extra request context for the audit and the rules (NAS-Identifier, Calling-Station-Id …)."""


class Outcome(enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    CHALLENGE = "challenge"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str = ""
    """Why, for the audit and `radiusd check`; never shown to the user."""
    reply: tuple[ReplyAttribute, ...] = ()
    """Attributes to add to an accept (Class, Filter-Id, vendor attributes …)."""
    message: str = ""
    """What the user is shown: the challenge prompt, or a reject's explanation such as
    'The code could not be sent'. Empty for an ordinary reject, so that nothing leaks."""
    state: bytes | None = None
    """Opaque challenge state to send back with the answer."""
    factor: str = ""
    """The factor that decided (totp, hotp, email …), for the audit."""
    lines: tuple[str, ...] = ()
    """Further text for the user after `message`, one item per line: the otpauth URI of a
    first-login enrolment. A front door that can show several lines sends each one (RADIUS: a
    further Reply-Message); one that cannot drops them. Never logged or audited (it may hold a seed)."""

    @classmethod
    def accept(cls, reason: str = "ok", reply: tuple[ReplyAttribute, ...] = (), factor: str = "") -> Decision:
        return cls(Outcome.ACCEPT, reason=reason, reply=reply, factor=factor)

    @classmethod
    def reject(cls, reason: str, message: str = "", factor: str = "") -> Decision:
        return cls(Outcome.REJECT, reason=reason, message=message, factor=factor)

    @classmethod
    def challenge(cls, prompt: str, state: bytes, reason: str = "challenge", factor: str = "") -> Decision:
        return cls(Outcome.CHALLENGE, reason=reason, message=prompt, state=state, factor=factor)


class Authenticator(Protocol):
    """What a front door needs from the engine."""

    async def authenticate(self, request: AuthRequest) -> Decision: ...
