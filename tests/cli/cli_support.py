"""CLI test helpers: `radiusd` run in-process against an initialised store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from radiusd.cli.main import cli
from radiusd.crypto.keyring import Keyring
from radiusd.store.database import Database


@dataclass
class Radiusd:
    config: Path
    data_dir: Path
    database_url: str

    def keyring(self) -> Keyring:
        return Keyring.load(self.data_dir / "keys.json")

    def database(self) -> Database:
        return Database(self.database_url)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["-c", str(self.config), *args], input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result.stdout

    def fails(self, *args: str, input: str | None = None) -> str:
        """Bad input: exit 1 and exactly one line of error on stderr, which is returned."""
        result = self(*args, input=input)
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]


def make_radiusd(tmp_path: Path, database_url: str | None) -> Radiusd:
    data: dict[str, object] = {
        "data_dir": str(tmp_path / "data"),
        "backends": {"local": {"time_cost": 1, "memory_cost": 8}},
    }
    if database_url:
        data["database"] = {"url": database_url}
    config = tmp_path / "radiusd.yaml"
    config.write_text(yaml.safe_dump(data))
    url = database_url or f"sqlite:///{tmp_path / 'data' / 'radiusd.db'}"
    return Radiusd(config, tmp_path / "data", url)
