"""The helper's settings file and the module arguments from /etc/pam.d."""

from __future__ import annotations

from pathlib import Path

import pytest

from radiusd.pamclient.settings import ModuleArguments, SettingsError, load_config, source_allowed


def test_arguments() -> None:
    args = ModuleArguments.parse(["prompt=separate", "try_first_pass", "config=/x/pam.yaml", "debug"])
    assert args == ModuleArguments(Path("/x/pam.yaml"), "separate", False, True, True)
    assert ModuleArguments.parse([]).prompt is None


@pytest.mark.parametrize(
    "argv",
    [["prompt=both"], ["nope"], ["use_first_pass=1"], ["config="], ["use_first_pass", "try_first_pass"]],
)
def test_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SettingsError):
        ModuleArguments.parse(argv)


def test_config_loads_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "s").write_text("shh\n")
    path = tmp_path / "pam.yaml"
    path.write_text(
        "servers:\n  - {address: 127.0.0.1, secret: {file: s}}\nallow_when_unreachable: [10.1.2.3/8]\n"
    )
    config = load_config(path)
    assert config.servers[0].secret == "shh"
    assert config.servers[0].port == 1812
    assert config.allow_when_unreachable == ["10.0.0.0/8"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("servers: []", "servers: List should have at least 1 item"),
        ("servers: [{address: h, secret: s, colour: red}]", "servers[0].colour: unknown key"),
        ("servers: [{address: h, secret: s}]\nprompt: twice", "prompt:"),
        ("servers: [{address: h, secret: s}]\nallow_when_unreachable: [nowhere]", "not an IP address"),
        ("- a list", "expected a mapping"),
        ("servers: [", "not valid YAML"),
    ],
)
def test_config_errors_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "pam.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=problem.replace("[", r"\[")):
        load_config(path)


def test_missing_config(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("rhost", "allowed"),
    [
        ("10.9.8.7", True),
        ("::ffff:10.9.8.7", True),
        ("fd00::1", True),
        ("192.0.2.1", False),
        ("jump.example.org", False),
        ("", False),
        (None, False),
    ],
)
def test_fail_open_only_for_listed_addresses(rhost: str | None, allowed: bool) -> None:
    assert source_allowed(rhost, ["10.0.0.0/8", "fd00::/8"]) is allowed


def test_no_networks_never_fail_open() -> None:
    assert source_allowed("10.0.0.1", []) is False
