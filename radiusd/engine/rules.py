"""Rules: which users, groups, clients and networks need which factors. First match by priority.

Every condition a rule names must hold (an empty list matches anything); the first rule whose
conditions all hold decides, lowest priority number first, file order among equals. No match:
everyone needs the second factor. Matching never raises: bad input (an unparsable source address)
simply fails the conditions that need it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import ipaddress
import socket
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from radiusd.config.engine import DAYS, ChallengeSettings, LockoutConfig, RuleConfig, TimeWindow
from radiusd.engine.types import ReplyAttribute

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
S = TypeVar("S", LockoutConfig, ChallengeSettings)


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


def parse_address(value: str | None) -> IPAddress | None:
    """The address as the rules see it: IPv4-mapped IPv6 becomes IPv4; a zone id is dropped."""
    if not value:
        return None
    return _parse_address(value)


def address_text(addr: IPAddress) -> str:
    """str(addr): the form the store keys an address by; IPv4 without ipaddress's slow formatting."""
    if addr.version == 4:
        return socket.inet_ntoa(addr.packed)
    return str(addr)


def ipv4_octets(value: str) -> bytes | None:
    """The four octets of `value` if parse_address reads it as a dotted quad, else None: with
    inet_pton, ten times faster than ipaddress's own parser, which glibc's agrees with exactly
    (no leading zeros); a zone id is dropped as parse_address drops it."""
    try:
        return socket.inet_pton(socket.AF_INET, value.split("%", 1)[0].strip())
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def _parse_address(value: str) -> IPAddress | None:
    # Every login's source is read by the rules and the lockout, several times: remembered (the
    # addresses are immutable), dotted quads by ipv4_octets.
    octets = ipv4_octets(value)
    if octets is not None:
        return ipaddress.IPv4Address(octets)
    text = value.split("%", 1)[0].strip()
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def _names(patterns: Iterable[str]) -> Callable[[str], bool]:
    """Exact names, or shell-style patterns ("*@example.com"); case-sensitive."""
    exact = frozenset(p for p in patterns if not any(c in p for c in "*?["))
    globs = tuple(p for p in patterns if p not in exact)
    return lambda name: name in exact or any(fnmatch.fnmatchcase(name, g) for g in globs)


class _NetworkSet:
    def __init__(self, entries: list[str]) -> None:
        self.include: list[IPNetwork] = []
        self.exclude: list[IPNetwork] = []
        for entry in entries:
            target = self.exclude if entry.startswith("!") else self.include
            target.append(ipaddress.ip_network(entry.removeprefix("!"), strict=False))

    def __contains__(self, addr: IPAddress) -> bool:
        if any(addr in net for net in self.exclude):
            return False
        return not self.include or any(addr in net for net in self.include)


class _Window:
    def __init__(self, window: TimeWindow) -> None:
        self.days = frozenset(DAYS.index(d) for d in window.days)
        self.start, self.end = window.minutes()
        self.zone = zoneinfo.ZoneInfo(window.timezone)

    def __contains__(self, at: float) -> bool:
        local = dt.datetime.fromtimestamp(at, self.zone)
        minute, day = local.hour * 60 + local.minute, local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        # Past midnight: the early part belongs to the window that started the day before.
        return (day in self.days and minute >= self.start) or (
            (day - 1) % 7 in self.days and minute < self.end
        )


def _merge(base: S, override: S | None) -> S:
    """A rule's section overrides only the keys it names; the rest comes from the global section."""
    if override is None:
        return base
    return type(base).model_validate({**base.model_dump(), **override.model_dump(exclude_unset=True)})


class _Rule:
    def __init__(self, cfg: RuleConfig, challenge: ChallengeSettings, lockout: LockoutConfig) -> None:
        m = cfg.match
        self.name = cfg.name
        self.users = _names(m.users) if m.users else None
        self.groups = _names(m.groups) if m.groups else None
        self.clients = _names(m.clients) if m.clients else None
        self.frontdoors = frozenset(m.frontdoors) or None
        self.networks = _NetworkSet(m.networks) if m.networks else None
        self.window = _Window(m.time) if m.time else None
        self.requirement = Requirement(
            rule=cfg.name,
            action=cfg.action,
            factors=frozenset(cfg.factors) if cfg.factors is not None else None,
            code_only=cfg.code_only,
            enrolment_grace=cfg.enrolment_grace,
            challenge=_merge(challenge, cfg.challenge),
            lockout=_merge(lockout, cfg.lockout),
            reply=tuple((r.attribute, r.value) for r in cfg.reply),
        )

    def mismatch(self, s: Subject, addr: IPAddress | None) -> str | None:
        """The first condition that does not hold, or None when the rule matches."""
        if self.users and not self.users(s.user):
            return "user"
        if self.groups and not any(self.groups(g) for g in s.groups):
            return "groups"
        if self.clients and not self.clients(s.client):
            return "client"
        if self.frontdoors and s.frontdoor not in self.frontdoors:
            return "frontdoor"
        if self.networks and (addr is None or addr not in self.networks):
            return "network"
        if self.window and s.at not in self.window:
            return "time"
        return None


class Policy:
    def __init__(self, rules: list[RuleConfig], challenge: ChallengeSettings, lockout: LockoutConfig) -> None:
        self.rules = sorted(rules, key=lambda r: r.priority)  # stable: file order among equals
        self.challenge = challenge
        self.lockout = lockout
        self._compiled = [_Rule(r, challenge, lockout) for r in self.rules]
        self._reads_address = any(rule.networks for rule in self._compiled)
        self.default = Requirement("default", "require", None, False, 0.0, challenge, lockout)

    def match(self, subject: Subject) -> Requirement:
        addr = parse_address(subject.source) if self._reads_address else None
        for rule in self._compiled:
            if rule.mismatch(subject, addr) is None:
                return rule.requirement
        return self.default

    def explain(self, subject: Subject) -> tuple[Requirement, list[tuple[str, str | None]]]:
        """The requirement, and each rule tried in order with the condition it failed (None: matched)."""
        addr = parse_address(subject.source)
        trace: list[tuple[str, str | None]] = []
        for rule in self._compiled:
            failed = rule.mismatch(subject, addr)
            trace.append((rule.name, failed))
            if failed is None:
                return rule.requirement, trace
        return self.default, trace
