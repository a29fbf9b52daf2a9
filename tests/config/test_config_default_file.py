"""conf/radiusd.yaml is the documented default: it loads, its values are the schema's defaults, and
every key of the schema appears in it (optional sections as commented-out examples that load too)."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from radiusd.config import Config, load

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "conf" / "radiusd.yaml"
# A commented-out example line: "# key: …" or "# - …" (prose never starts that way).
EXAMPLE_LINE = re.compile(r"^(\s*)# (\s*(?:[a-z_]+:|- ).*)$")


def uncommented(text: str) -> str:
    return "\n".join(EXAMPLE_LINE.sub(r"\1\2", line) for line in text.splitlines())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if found := _model_of(arg):
            return found
    return None


def missing_keys(model: type[BaseModel], data: Any, where: str = "") -> list[str]:
    """Schema fields absent from `data`, descending into sections and the first item of lists."""
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, dict):
        return [where or "(top level)"]
    missing = []
    for name, field in model.model_fields.items():
        path = f"{where}.{name}" if where else name
        if name not in data:
            missing.append(path)
        elif (sub := _model_of(field.annotation)) is not None and data[name] is not None:
            missing += missing_keys(sub, data[name], path)
    return missing


def test_the_default_file_loads_with_the_schema_defaults() -> None:
    config = load(DEFAULT_FILE)
    assert config.data_dir == DEFAULT_FILE.parent.parent / "data"
    defaults = Config.model_validate({"data_dir": "../data"}, context={"base": DEFAULT_FILE.parent})
    assert config.model_dump() == defaults.model_dump()


def test_every_schema_key_is_documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = uncommented(DEFAULT_FILE.read_text())
    assert missing_keys(Config, yaml.safe_load(text)) == []
    # The examples are valid too (with the secrets they name in the environment).
    for name in re.findall(r"\{env: (\w+)\}", text):
        monkeypatch.setenv(name, "example-secret")
    example = tmp_path / "conf" / "radiusd.yaml"
    example.parent.mkdir()
    example.write_text(text)
    for name in re.findall(r"(?:ca_file|tls_cert|tls_key): ([\w./-]+)", text):
        (example.parent / name).parent.mkdir(parents=True, exist_ok=True)
        (example.parent / name).touch()  # the certificate files the examples name
    config = load(example)
    assert config.radius.clients[0].name == "vpn" and config.backends.ldap is not None
    assert config.rules[0].action == "skip" and config.delivery.sms is not None


def test_the_check_finds_an_undocumented_key() -> None:
    text = DEFAULT_FILE.read_text().replace("  workers: 1\n", "")
    assert missing_keys(Config, yaml.safe_load(uncommented(text))) == ["radius.workers"]
