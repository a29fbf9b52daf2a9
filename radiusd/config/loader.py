"""Find, read and validate the configuration; report problems as `FILE: key.path: what is wrong`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from radiusd.config.schema import Config

SYSTEM_CONFIG = Path("/etc/radiusd/radiusd.yaml")
ENV_VAR = "RADIUSD_CONFIG"


class ConfigError(Exception):
    """Every line is one problem, already formatted as `FILE: key.path: reason`."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "json-or-python")):
            continue  # pydantic's internal validator names say nothing to a user
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _reason(error: Any) -> str:
    msg: str = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown key"
    return msg.removeprefix("Value error, ")


def locate(explicit: str | os.PathLike[str] | None) -> Path | None:
    """-c/--config, else $RADIUSD_CONFIG, else /etc/radiusd/radiusd.yaml if present, else built-ins."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None


def load(path: Path | None) -> Config:
    """Load and validate; raise ConfigError with every problem found. Touches nothing else."""
    if path is None:
        return Config.model_validate({}, context={"base": Path.cwd()})
    name = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError([f"{name}: file not found"]) from None
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise ConfigError([f"{name}: not valid YAML{line}: {getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{name}: (top level): expected a mapping of keys"])
    try:
        return Config.model_validate(data, context={"base": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError([f"{name}: {_dotted(e['loc'])}: {_reason(e)}" for e in exc.errors()]) from None
