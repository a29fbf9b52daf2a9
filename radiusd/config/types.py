"""Field types shared by the configuration sections: secrets from three sources, paths, networks.

Relative paths are resolved against the configuration file's folder, which the loader passes as
validation context ("base").
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel as _BaseModel
from pydantic import BeforeValidator, ConfigDict, PlainSerializer, ValidationInfo


class Section(_BaseModel):
    """Every section refuses unknown keys: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _base(info: ValidationInfo) -> Path:
    ctx = info.context or {}
    return Path(ctx.get("base", "."))


def _resolve(value: Any, info: ValidationInfo) -> Path:
    if not isinstance(value, str | Path) or str(value) == "":
        raise ValueError("expected a path")
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else (_base(info) / path).resolve()


def _existing_file(value: Any, info: ValidationInfo) -> Path:
    path = _resolve(value, info)
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    return path


def _secret(value: Any, info: ValidationInfo) -> str:
    """A secret inline ("text"), from a file ({file: path}) or from the environment ({env: NAME})."""
    if isinstance(value, str):
        if not value:
            raise ValueError("secret is empty")
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((kind, ref),) = value.items()
        if kind == "file":
            path = _resolve(ref, info)
            try:
                text = path.read_text().rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
            if not text:
                raise ValueError(f"secret file {path} is empty")
            return text
        if kind == "env":
            text = os.environ.get(str(ref), "")
            if not text:
                raise ValueError(f"environment variable {ref} is not set or empty")
            return text
    raise ValueError("expected a string, {file: PATH} or {env: VARIABLE}")


def _network(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an address or CIDR network as a string")
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(f"not an IP address or CIDR network: {value!r}") from None


def _address(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected an IP address as a string")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None


_hidden = PlainSerializer(lambda _v: "********", return_type=str)

ConfigPath = Annotated[Path, BeforeValidator(_resolve)]
ExistingFile = Annotated[Path, BeforeValidator(_existing_file)]
Secret = Annotated[str, BeforeValidator(_secret), _hidden]
Network = Annotated[str, BeforeValidator(_network)]
Address = Annotated[str, BeforeValidator(_address)]
