"""`radiusd audit list`, `radiusd lockout list|clear|set` and `radiusd policy explain` in-process."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import insert

from radiusd.cli.main import cli
from radiusd.store.database import Database
from radiusd.store.models import AuditEvent


class Radiusd:
    def __init__(self, tmp_path: Path, db_url: str, **extra: Any) -> None:
        self.db_url = db_url
        self.config = tmp_path / "radiusd.yaml"
        data = {
            "data_dir": str(tmp_path / "data"),
            "database": {"url": db_url},
            "backends": {"local": {"time_cost": 1, "memory_cost": 8}},
            **extra,
        }
        self.config.write_text(yaml.safe_dump(data))

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["-c", str(self.config), *args], catch_exceptions=False)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code != 0, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]


RULES = [
    {"name": "blocked", "priority": 1, "action": "deny", "match": {"networks": ["198.51.100.0/24"]}},
    {"name": "customers", "priority": 10, "match": {"groups": ["customers"]}, "factors": ["totp", "yubikey"]},
    {
        "name": "office",
        "priority": 20,
        "action": "skip",
        "match": {"networks": ["10.0.0.0/8", "!10.9.0.0/16"]},
        "reply": [{"attribute": "Filter-Id", "value": "office"}],
    },
    {
        "name": "weekend",
        "priority": 30,
        "action": "deny",
        "match": {"clients": ["wiki"], "time": {"days": ["sat", "sun"], "timezone": "Europe/Berlin"}},
    },
]


@pytest.fixture
def radiusd(tmp_path: Path, db_url: str) -> Radiusd:
    run = Radiusd(tmp_path, db_url, rules=RULES)
    run.ok("init", "--quiet")
    return run


def add_events(db_url: str, events: list[dict[str, Any]]) -> None:
    db = Database(db_url)
    with db.sessions.begin() as s:
        s.execute(insert(AuditEvent), events)
    db.close()


def event(at: float, user: str, result: str, reason: str, frontdoor: str = "radius") -> dict[str, Any]:
    return {
        "at": at,
        "frontdoor": frontdoor,
        "client": "vpn",
        "source": "192.0.2.1",
        "user": user,
        "factor": "totp",
        "result": result,
        "reason": reason,
        "latency_ms": 3.25,
        "node": "n1",
    }


def test_audit_list_filters(radiusd: Radiusd) -> None:
    now = time.time()
    add_events(
        radiusd.db_url,
        [
            event(now - 3 * 86400, "alice", "accept", "ok"),
            event(now - 7200, "alice", "reject", "wrong code"),
            event(now - 60, "bob", "reject", "source locked: too many failures", "pam"),
            event(now - 30, "alice", "accept", "ok"),
        ],
    )
    everything = radiusd.json("audit", "list")
    assert [e["reason"] for e in everything] == [
        "ok",
        "source locked: too many failures",
        "wrong code",
        "ok",
    ]  # newest first
    assert {e["user"] for e in radiusd.json("audit", "list", "--user", "bob")} == {"bob"}
    assert len(radiusd.json("audit", "list", "--since", "1h")) == 2
    assert len(radiusd.json("audit", "list", "--since", "2d")) == 3
    iso_since = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 10000))
    assert len(radiusd.json("audit", "list", "--since", iso_since)) == 3
    assert [e["user"] for e in radiusd.json("audit", "list", "--result", "reject")] == ["bob", "alice"]
    assert [e["user"] for e in radiusd.json("audit", "list", "--frontdoor", "pam")] == ["bob"]
    assert len(radiusd.json("audit", "list", "--limit", "1")) == 1
    table = radiusd.ok("audit", "list", "--user", "bob")
    assert table.splitlines()[0].split()[:3] == ["TIME", "FRONTDOOR", "CLIENT"]
    assert "source locked: too many failures" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "list", "--since", "yesterday"], "not an ISO time"),
        (["audit", "list", "--since", "0h"], "not a duration"),
        (["lockout", "set", "alice", "--for", "forever"], "not a duration"),
        (["policy", "explain", "alice", "--client", "vpn", "--from", "10.0.0.300"], "not an IP address"),
        (
            ["policy", "explain", "alice", "--client", "vpn", "--from", "10.0.0.1", "--at", "noon"],
            "not an ISO time",
        ),
    ],
)
def test_bad_input_is_one_line(radiusd: Radiusd, args: list[str], message: str) -> None:
    assert message in radiusd.fails(*args)


def test_lockout_set_list_clear(radiusd: Radiusd) -> None:
    assert radiusd.json("lockout", "list") == []
    radiusd.ok("lockout", "set", "alice", "--reason", "on leave")
    radiusd.ok("lockout", "set", "::ffff:192.0.2.9", "--for", "30m")
    locks = {(lk["scope"], lk["key"]): lk for lk in radiusd.json("lockout", "list")}
    assert set(locks) == {("user", "alice"), ("source", "192.0.2.9")}
    assert locks["user", "alice"]["until"] is None and locks["user", "alice"]["reason"] == "on leave"
    assert 1790 <= locks["source", "192.0.2.9"]["remaining_s"] <= 1800
    assert "alice" in radiusd.ok("lockout", "list")
    assert "1 lock(s) lifted" in radiusd.ok("lockout", "clear", "alice")
    assert "1 lock(s) lifted" in radiusd.ok("lockout", "clear", "192.0.2.9")
    assert "0 lock(s) lifted" in radiusd.ok("lockout", "clear", "nobody")
    assert radiusd.json("lockout", "list") == []
    assert radiusd.ok("lockout", "list").strip() == "(none)"


def test_policy_explain_reads_groups_from_the_store(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "carol", "--no-password")
    radiusd.ok("group", "add", "customers")
    radiusd.ok("group", "add-member", "customers", "carol")

    carol = radiusd.json("policy", "explain", "carol", "--client", "vpn", "--from", "10.1.1.1")
    assert (carol["rule"], carol["action"], carol["factors"], carol["groups"]) == (
        "customers",
        "require",
        ["totp", "yubikey"],
        ["customers"],
    )
    assert carol["in_store"] is True
    assert carol["tried"] == ["blocked: network does not match", "customers: matched"]

    dave = radiusd.json("policy", "explain", "dave", "--client", "vpn", "--from", "10.1.1.1")
    assert (dave["rule"], dave["action"], dave["reply"], dave["in_store"]) == (
        "office",
        "skip",
        ["Filter-Id=office"],
        False,
    )
    excluded = radiusd.json("policy", "explain", "dave", "--client", "vpn", "--from", "10.9.0.1")
    assert (excluded["rule"], excluded["action"]) == ("default", "require")
    assert "office: network does not match" in excluded["tried"]
    # Saturday noon in Berlin, from outside the office: the weekend rule.
    sat = radiusd.json(
        "policy",
        "explain",
        "dave",
        "--client",
        "wiki",
        "--from",
        "203.0.113.1",
        "--at",
        "2024-05-18T12:00+02:00",
    )
    assert (sat["rule"], sat["action"], sat["at"]) == ("weekend", "deny", "2024-05-18T10:00:00.000Z")
    monday = radiusd.json(
        "policy",
        "explain",
        "dave",
        "--client",
        "wiki",
        "--from",
        "203.0.113.1",
        "--at",
        "2024-05-20T12:00+02:00",
    )
    assert monday["rule"] == "default"
    text = radiusd.ok(
        "policy", "explain", "dave", "--client", "vpn", "--from", "2001:db8::1", "--frontdoor", "pam"
    )
    assert "rule" in text and "default" in text and "no user lock" in text


def test_every_command_has_help(radiusd: Radiusd) -> None:
    for args in (
        ["audit", "list"],
        ["lockout", "list"],
        ["lockout", "clear"],
        ["lockout", "set"],
        ["policy", "explain"],
    ):
        assert "Usage:" in radiusd.ok(*args, "--help")
