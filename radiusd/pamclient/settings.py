"""The helper's settings: a YAML file (it holds the shared secrets: keep it 0600 root) and the
arguments on the module's line in /etc/pam.d/, which choose how this service prompts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from radiusd.config.loader import _dotted, _reason
from radiusd.config.types import ExistingFile, Network, Secret, Section

DEFAULT_CONFIG = Path("/etc/radiusd/pam.yaml")

PromptMode = Literal["combined", "separate", "code"]


class SettingsError(Exception):
    """One line that says what is wrong, for syslog."""


class ServerConfig(Section):
    address: str = Field(min_length=1)
    """Host name or IP address of a radiusd node."""
    port: int = Field(default=1812, ge=1, le=65535)
    secret: Secret
    timeout: float = Field(default=3.0, gt=0, le=60, description="seconds per try")
    retries: int = Field(default=1, ge=0, le=10)
    """Retransmissions to this server before the next one is asked."""


class HelperConfig(Section):
    servers: list[ServerConfig] = Field(min_length=1)
    """Asked in order; the next one only when the previous did not answer (failover)."""
    nas_identifier: str | None = None
    """Sent as NAS-Identifier; the PAM service name (sshd, sudo …) by default."""
    dictionary: ExistingFile | None = None
    """RADIUS dictionary; the one shipped with radiusd by default."""
    prompt: PromptMode = "combined"
    combined_prompt: str = "Password and one-time code: "
    password_prompt: str = "Password: "
    code_prompt: str = "One-time code: "
    max_rounds: int = Field(default=5, ge=1, le=20)
    """Challenges answered in one login before giving up."""
    allow_when_unreachable: list[Network] = Field(default_factory=list)
    """Fail open ONLY for these source networks (PAM_RHOST), and only when no server answers."""


@dataclass(frozen=True)
class ModuleArguments:
    """The arguments after pam_radiusd.so in /etc/pam.d/SERVICE."""

    config: Path = DEFAULT_CONFIG
    prompt: PromptMode | None = None
    use_first_pass: bool = False
    try_first_pass: bool = False
    debug: bool = False

    @classmethod
    def parse(cls, argv: list[str]) -> ModuleArguments:
        values: dict[str, object] = {}
        for arg in argv:
            key, _, value = arg.partition("=")
            if key in ("use_first_pass", "try_first_pass", "debug") and not value:
                values[key] = True
            elif key == "config" and value:
                values["config"] = Path(value)
            elif key == "prompt" and value in ("combined", "separate", "code"):
                values["prompt"] = value
            else:
                raise SettingsError(f"unknown or malformed module argument {arg!r}")
        if values.get("use_first_pass") and values.get("try_first_pass"):
            raise SettingsError("use_first_pass and try_first_pass exclude each other")
        return cls(**values)  # type: ignore[arg-type]


def load_config(path: Path) -> HelperConfig:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError:
        raise SettingsError(f"{path}: not valid YAML") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of keys")
    try:
        return HelperConfig.model_validate(data, context={"base": path.resolve().parent})
    except ValidationError as exc:
        problems = [f"{path}: {_dotted(e['loc'])}: {_reason(e)}" for e in exc.errors()]
        raise SettingsError("; ".join(problems)) from None


def source_allowed(rhost: str | None, networks: list[str]) -> bool:
    """Whether PAM_RHOST is an address inside one of the fail-open networks (never a host name)."""
    if not rhost or not networks:
        return False
    try:
        address = ipaddress.ip_address(rhost.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(n) for n in networks)
