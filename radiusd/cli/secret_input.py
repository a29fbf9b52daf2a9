"""Reading passwords and shared secrets: from stdin for scripts, or prompted twice for people."""

from __future__ import annotations

import sys

import click

from radiusd.cli.main import UsageError


def read_stdin(what: str) -> str:
    """The first line of stdin, without its line ending; never echoed."""
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise UsageError(f"no {what} on stdin")
    return value


def prompt_twice(what: str) -> str:
    value: str = click.prompt(
        what.capitalize(), hide_input=True, confirmation_prompt=f"Repeat the {what}", err=True
    )
    if not value:
        raise UsageError(f"the {what} is empty")
    return value


def read_secret(what: str, from_stdin: bool) -> str:
    return read_stdin(what) if from_stdin else prompt_twice(what)
