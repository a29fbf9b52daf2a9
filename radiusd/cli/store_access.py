"""How the admin commands open the store: schema checked first, bad input as one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from radiusd.cli.main import CliState, UsageError
from radiusd.context import Context
from radiusd.crypto.keyring import KeyringError
from radiusd.store.admin import AdminError
from radiusd.store.schema import SchemaError, ensure_current


def open_store(state: CliState) -> Context:
    """The shared context, refusing a database whose schema is not current."""
    ctx = state.context()
    try:
        ensure_current(ctx.db)
    except SchemaError as exc:
        raise UsageError(str(exc)) from None
    return ctx


@contextmanager
def transaction(ctx: Context) -> Iterator[Session]:
    """One transaction; AdminError and key ring problems become a one-line error, exit 1."""
    try:
        with ctx.db.sessions.begin() as session:
            yield session
    except (AdminError, KeyringError) as exc:
        raise UsageError(str(exc)) from None
