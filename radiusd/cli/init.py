"""`radiusd init`, `radiusd db upgrade`, `radiusd key rotate`: setting up and maintaining the store."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.engine import make_url

from radiusd.cli.main import CliState, UsageError, pass_state
from radiusd.cli.output import emit_object, json_option
from radiusd.cli.store_access import open_store
from radiusd.crypto.keyring import Keyring, KeyringError
from radiusd.store.admin import count_sealed, reencrypt_all
from radiusd.store.schema import upgrade


@click.command()
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
@pass_state
def init(state: CliState, quiet: bool) -> None:
    """Create the data directory (0700), the key file (0600) and the database, or bring them up
    to date. Safe to re-run: an existing key file is never overwritten."""
    config = state.config()  # validated before anything is written
    data_dir = config.data_dir
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
        data_dir.chmod(0o700)  # whatever the umask says
    key_path = config.key_path
    if key_path.exists():
        key_note = "kept"
    else:
        Keyring.create(key_path)
        key_note = "created"
    db = state.context().db
    revision = upgrade(db)
    if db.is_sqlite and db.engine.url.database:
        # SQLite creates its -wal and -shm files with the database file's mode.
        Path(db.engine.url.database).chmod(0o600)
    if not quiet:
        click.echo(f"data directory  {data_dir}")
        click.echo(f"key file        {key_path} ({key_note})")
        url = make_url(config.database_url).render_as_string(hide_password=True)
        click.echo(f"database        {url} (schema {revision})")
        click.echo("Next: add a RADIUS client (radiusd client add), a user and a token.")


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Migrate the database to the schema this radiusd needs (safe while servers run)."""
    click.echo(f"database schema at {upgrade(state.context().db)}")


@click.group()
def key() -> None:
    """The key file that seals secrets at rest."""


@key.command("rotate")
@click.option(
    "--stage",
    is_flag=True,
    help="Only add a new key, unused, and print its id: copy the key file to every node, then "
    "run `key rotate --activate ID` on one of them.",
)
@click.option("--activate", "activate_id", metavar="ID", help="Make a staged key current and re-encrypt.")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 100_000))
@json_option
@pass_state
def key_rotate(state: CliState, stage: bool, activate_id: str | None, batch_size: int, as_json: bool) -> None:
    """Add a new key and re-encrypt every stored secret under it, in batches.

    Servers keep running: they still hold the old keys and reload the key file when they meet the
    new key id. Old keys stay in the file so that a backup taken before the rotation still opens.
    Nodes that each keep their own copy of the key file rotate in two steps (--stage, copy the
    file to every node, --activate ID), so that no node meets a key it does not hold.
    """
    if stage and activate_id:
        raise UsageError("--stage and --activate go in two separate steps")
    ctx = open_store(state)
    try:
        keyring = ctx.keyring
        if stage:
            emit_object({"staged_key_id": keyring.stage(), "current_key_id": keyring.current}, as_json)
            return
        if activate_id:
            keyring.activate(activate_id)
            key_id = activate_id
        else:
            key_id = keyring.rotate()
    except KeyringError as exc:
        raise UsageError(str(exc)) from None
    total = count_sealed(ctx.db)
    with click.progressbar(
        length=total, label="re-encrypting", file=sys.stderr, hidden=as_json or total == 0
    ) as bar:
        counts = reencrypt_all(ctx.db, keyring, batch_size, progress=bar.update)
    emit_object({"key_id": key_id, **{f"reencrypted_{t}": n for t, n in counts.items()}}, as_json)


commands = [init, db, key]
