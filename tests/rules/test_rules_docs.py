"""The examples in docs/rules.md are valid configuration and do what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from radiusd.config import Config
from radiusd.engine.rules import Policy, Subject

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def yaml_blocks() -> list[dict[str, object]]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def test_documented_examples_are_valid_and_behave() -> None:
    merged: dict[str, object] = {}
    for block in yaml_blocks():
        merged.update(block)
    cfg = Config.model_validate(merged, context={"base": Path("/tmp")})
    policy = Policy(cfg.rules, cfg.challenge, cfg.lockout)

    def rule(user: str, groups: set[str], client: str, source: str) -> tuple[str, str]:
        req = policy.match(Subject(user, frozenset(groups), client, "radius", source, 1_716_000_000.0))
        return req.rule, req.action

    assert rule("eve", set(), "vpn-gw", "198.51.100.3") == ("quarantine", "deny")
    assert rule("ann", {"vpn-admins"}, "vpn-gw", "10.1.1.1") == ("vpn-admins-hardware", "require")
    assert rule("cid", {"customers"}, "vpn-gw", "10.1.1.1") == ("customers", "require")
    assert rule("bob", {"staff"}, "vpn-gw", "10.1.1.1") == ("office", "skip")
    assert rule("bob", {"staff"}, "vpn-gw", "10.66.1.1") == ("default", "require")
    assert policy.match(Subject("cid", frozenset({"customers"}), "x", "radius", None, 0)).lockout.lock_user
