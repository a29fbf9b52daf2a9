"""Every command and subcommand answers --help."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from radiusd.cli.main import cli


def _paths(command: click.Command, path: list[str]) -> Iterator[list[str]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _paths(sub, [*path, name])


def test_every_command_has_help() -> None:
    paths = list(_paths(cli, []))
    assert ["token", "add"] in paths and ["key", "rotate"] in paths
    for path in paths:
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (path, result.output)
