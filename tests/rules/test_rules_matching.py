"""Rule matching, table-driven: user, group, client, CIDR with exclusion, IPv6, time window, priority."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from radiusd.config.engine import ChallengeSettings, LockoutConfig, RuleConfig
from radiusd.engine.rules import Policy, Subject

RULES: list[dict[str, Any]] = [
    {"name": "blocked-net", "priority": 1, "action": "deny", "match": {"networks": ["198.51.100.0/24"]}},
    {
        "name": "vpn-hardware",
        "priority": 10,
        "match": {"clients": ["vpn"], "groups": ["vpn-admins"]},
        "factors": ["yubikey"],
    },
    {"name": "customers", "priority": 20, "match": {"groups": ["customers", "partner-*"]}},
    {
        "name": "office",
        "priority": 30,
        "action": "skip",
        "match": {"networks": ["10.0.0.0/8", "!10.66.0.0/16", "2001:db8:1::/48"]},
    },
    {
        "name": "night-shift",
        "priority": 40,
        "action": "skip",
        "match": {
            "users": ["guard"],
            "time": {"days": ["fri"], "hours": "22:00-06:00", "timezone": "Europe/Berlin"},
        },
    },
    {
        "name": "office-hours",
        "priority": 40,
        "match": {
            "users": ["*@contractor.example"],
            "time": {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "hours": "08:00-18:00",
                "timezone": "America/New_York",
            },
        },
        "factors": ["totp"],
    },
    {
        "name": "ssh-only",
        "priority": 50,
        "match": {"frontdoors": ["pam"], "users": ["ops"]},
        "code_only": True,
    },
    {
        "name": "anywhere-but-lab",
        "priority": 60,
        "action": "deny",
        "match": {"users": ["intern"], "networks": ["!192.0.2.0/24"]},
    },
    # Same priority as "office" but later in the file: "office" wins where both match.
    {"name": "shadowed", "priority": 30, "action": "deny", "match": {"networks": ["10.1.0.0/16"]}},
]


def at(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


NOON_UTC_WED = at("2024-05-15T12:00:00+00:00")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy([RuleConfig.model_validate(r) for r in RULES], ChallengeSettings(), LockoutConfig())


CASES = [
    # (id, user, groups, client, frontdoor, source, at, expected rule)
    ("user-no-rule", "alice", [], "vpn", "radius", "203.0.113.5", NOON_UTC_WED, "default"),
    (
        "deny-network-first",
        "alice",
        ["vpn-admins"],
        "vpn",
        "radius",
        "198.51.100.7",
        NOON_UTC_WED,
        "blocked-net",
    ),
    ("group-and-client", "bob", ["vpn-admins"], "vpn", "radius", "203.0.113.5", NOON_UTC_WED, "vpn-hardware"),
    ("group-wrong-client", "bob", ["vpn-admins"], "wiki", "ldap", "203.0.113.5", NOON_UTC_WED, "default"),
    ("group-pattern", "carol", ["partner-acme"], "wiki", "ldap", "10.1.2.3", NOON_UTC_WED, "customers"),
    ("customer-beats-office", "carol", ["customers"], "vpn", "radius", "10.1.2.3", NOON_UTC_WED, "customers"),
    ("office-v4", "alice", ["staff"], "vpn", "radius", "10.1.2.3", NOON_UTC_WED, "office"),
    ("office-excluded-subnet", "alice", [], "vpn", "radius", "10.66.1.1", NOON_UTC_WED, "default"),
    ("office-v4-mapped-v6", "alice", [], "vpn", "radius", "::ffff:10.1.2.3", NOON_UTC_WED, "office"),
    ("office-v6", "alice", [], "vpn", "radius", "2001:db8:1:5::10", NOON_UTC_WED, "office"),
    ("office-v6-zone", "alice", [], "vpn", "radius", "2001:db8:1::1%eth0", NOON_UTC_WED, "office"),
    ("other-v6", "alice", [], "vpn", "radius", "2001:db8:2::1", NOON_UTC_WED, "default"),
    ("no-source", "alice", [], "vpn", "radius", None, NOON_UTC_WED, "default"),
    ("garbage-source", "alice", [], "vpn", "radius", "not-an-address", NOON_UTC_WED, "default"),
    # Friday 23:30 in Berlin (CEST, UTC+2) is 21:30 UTC: inside the window that starts Friday 22:00.
    ("night-fri-late", "guard", [], "door", "radius", None, at("2024-05-17T21:30:00+00:00"), "night-shift"),
    # Saturday 05:00 Berlin: still Friday's window, past midnight.
    ("night-sat-early", "guard", [], "door", "radius", None, at("2024-05-18T03:00:00+00:00"), "night-shift"),
    # Saturday 07:00 Berlin: after the window.
    ("night-sat-after", "guard", [], "door", "radius", None, at("2024-05-18T05:00:00+00:00"), "default"),
    # Thursday 23:00 Berlin: Thursday is not a start day.
    ("night-thu", "guard", [], "door", "radius", None, at("2024-05-16T21:00:00+00:00"), "default"),
    # 13:00 UTC is 09:00 in New York (EDT): inside office hours; 12:00 UTC is 08:00 (start, inclusive).
    (
        "ny-office-hours",
        "x@contractor.example",
        [],
        "vpn",
        "radius",
        None,
        at("2024-05-15T13:00:00+00:00"),
        "office-hours",
    ),
    ("ny-start-inclusive", "x@contractor.example", [], "vpn", "radius", None, NOON_UTC_WED, "office-hours"),
    (
        "ny-end-exclusive",
        "x@contractor.example",
        [],
        "vpn",
        "radius",
        None,
        at("2024-05-15T22:00:00+00:00"),
        "default",
    ),
    (
        "ny-saturday",
        "x@contractor.example",
        [],
        "vpn",
        "radius",
        None,
        at("2024-05-18T15:00:00+00:00"),
        "default",
    ),
    ("frontdoor", "ops", [], "sshd", "pam", None, NOON_UTC_WED, "ssh-only"),
    ("frontdoor-other", "ops", [], "vpn", "radius", None, NOON_UTC_WED, "default"),
    (
        "exclusion-only-outside",
        "intern",
        [],
        "vpn",
        "radius",
        "203.0.113.9",
        NOON_UTC_WED,
        "anywhere-but-lab",
    ),
    ("exclusion-only-inside", "intern", [], "vpn", "radius", "192.0.2.9", NOON_UTC_WED, "default"),
    ("user-exact-not-prefix", "intern2", [], "vpn", "radius", "203.0.113.9", NOON_UTC_WED, "default"),
]


@pytest.mark.parametrize(
    ("user", "groups", "client", "frontdoor", "source", "when", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_first_match_by_priority(
    policy: Policy,
    user: str,
    groups: list[str],
    client: str,
    frontdoor: str,
    source: str | None,
    when: float,
    expected: str,
) -> None:
    subject = Subject(user, frozenset(groups), client, frontdoor, source, when)
    assert policy.match(subject).rule == expected


def test_requirement_carries_rule_settings(policy: Policy) -> None:
    req = policy.match(
        Subject("bob", frozenset({"vpn-admins"}), "vpn", "radius", "203.0.113.5", NOON_UTC_WED)
    )
    assert (req.action, req.factors, req.code_only) == ("require", frozenset({"yubikey"}), False)
    req = policy.match(Subject("alice", frozenset(), "vpn", "radius", "10.0.0.1", NOON_UTC_WED))
    assert req.action == "skip"
    assert policy.match(Subject("ops", frozenset(), "s", "pam", None, NOON_UTC_WED)).code_only is True


def test_rule_sections_override_only_named_keys() -> None:
    rule = RuleConfig.model_validate(
        {
            "name": "strict",
            "lockout": {"lock_user": True},
            "challenge": {"attempts": 1},
            "enrolment_grace": 86400,
            "reply": [
                {"attribute": "Filter-Id", "value": "staff"},
                {"attribute": "Session-Timeout", "value": 3600},
            ],
        }
    )
    glob_lockout = LockoutConfig(source_threshold=4, user_threshold=12)
    req = Policy([rule], ChallengeSettings(validity=60), glob_lockout).match(
        Subject("u", frozenset(), "c", "radius", None, 0.0)
    )
    assert (req.lockout.lock_user, req.lockout.source_threshold, req.lockout.user_threshold) == (True, 4, 12)
    assert (req.challenge.attempts, req.challenge.validity) == (1, 60)
    assert req.enrolment_grace == 86400
    assert req.reply == (("Filter-Id", "staff"), ("Session-Timeout", 3600))


def test_explain_traces_each_rule(policy: Policy) -> None:
    req, trace = policy.explain(Subject("alice", frozenset(), "vpn", "radius", "10.66.0.1", NOON_UTC_WED))
    assert req.rule == "default"
    assert dict(trace)["office"] == "network"
    assert dict(trace)["vpn-hardware"] == "groups"
    assert [name for name, _ in trace] == [r.name for r in policy.rules]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "x", "match": {"networks": ["10.0.0.300/8"]}}, "not an IP address or CIDR network"),
        ({"name": "x", "match": {"time": {"hours": "8-17"}}}, "HH:MM-HH:MM"),
        ({"name": "x", "match": {"time": {"hours": "08:00-08:00"}}}, "different start and end"),
        ({"name": "x", "match": {"time": {"timezone": "Mars/Olympus"}}}, "unknown time zone"),
        ({"name": "x", "match": {"time": {"days": ["someday"]}}}, "Input should be"),
        ({"name": "x", "action": "maybe"}, "Input should be"),
        ({"name": "x", "factors": ["carrier-pigeon"]}, "Input should be"),
        ({"name": "x", "match": {"hosts": ["a"]}}, "Extra inputs"),
        (
            {"name": "x", "lockout": {"lock_user": True, "source_threshold": 30, "user_threshold": 30}},
            "source_threshold must be lower",
        ),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RuleConfig.model_validate(rule)
