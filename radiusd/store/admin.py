"""The administration queries the CLI runs: users, groups, memberships, RADIUS clients, tokens.

Every function takes an open Session; the caller owns the transaction (`with db.sessions.begin()`).
Bad input raises AdminError with a one-line message meant for the operator.
Secrets are sealed with the key ring before they reach a row: RADIUS shared secrets under
PURPOSE_CLIENT, token seeds (the raw seed bytes) under PURPOSE_TOKEN.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from radiusd.crypto.keyring import PURPOSE_CLIENT, PURPOSE_TOKEN, Keyring
from radiusd.store.database import Database
from radiusd.store.models import Group, RadiusClient, Token, User

BACKENDS = ("local", "pam", "ldap", "none")


class AdminError(Exception):
    """Bad input from an operator: unknown name, duplicate, malformed value."""


def _flush(session: Session, what: str) -> None:
    """Flush, turning a unique-constraint race into the same error as the explicit check."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AdminError(f"{what} already exists") from None


def _check_name(kind: str, name: str) -> str:
    if not name or name != name.strip() or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise AdminError(f"invalid {kind} name: {name!r}")
    return name


# -- users -------------------------------------------------------------------------------------


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise AdminError(f"no such user: {name}")
    return user


def add_user(
    session: Session,
    name: str,
    *,
    password_hash: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    backend: str | None = None,
    groups: Iterable[str] = (),
) -> User:
    _check_name("user", name)
    if backend is not None and backend not in BACKENDS:
        raise AdminError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AdminError(f"user {name} already exists")
    members_of = [get_group(session, g) for g in dict.fromkeys(groups)]
    now = time.time()
    user = User(
        name=name,
        password_hash=password_hash,
        email=email,
        phone=phone,
        backend=backend,
        enabled=True,
        created_at=now,
        updated_at=now,
    )
    user.groups = members_of
    session.add(user)
    _flush(session, f"user {name}")
    return user


def list_users(session: Session) -> list[dict[str, Any]]:
    users = session.scalars(
        select(User).options(selectinload(User.groups), selectinload(User.tokens)).order_by(User.name)
    )
    return [user_summary(u) for u in users]


def user_summary(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "enabled": user.enabled,
        "backend": user.backend,
        "email": user.email,
        "phone": user.phone,
        "groups": sorted(g.name for g in user.groups),
        "tokens": len(user.tokens),
        "password": user.password_hash is not None,
        "created_at": user.created_at,
    }


def show_user(session: Session, name: str) -> dict[str, Any]:
    user = get_user(session, name)
    return user_summary(user) | {"token_list": [token_summary(t, name) for t in user.tokens]}


def set_user_enabled(session: Session, name: str, enabled: bool) -> None:
    user = get_user(session, name)
    user.enabled = enabled
    user.updated_at = time.time()


def set_password(session: Session, name: str, password_hash: str | None) -> None:
    user = get_user(session, name)
    user.password_hash = password_hash
    user.updated_at = time.time()


def delete_user(session: Session, name: str) -> None:
    session.delete(get_user(session, name))


# -- groups ------------------------------------------------------------------------------------


def get_group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise AdminError(f"no such group: {name}")
    return group


def add_group(session: Session, name: str, description: str = "") -> Group:
    _check_name("group", name)
    if session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise AdminError(f"group {name} already exists")
    group = Group(name=name, description=description, created_at=time.time())
    session.add(group)
    _flush(session, f"group {name}")
    return group


def list_groups(session: Session) -> list[dict[str, Any]]:
    groups = session.scalars(select(Group).options(selectinload(Group.members)).order_by(Group.name))
    return [
        {"name": g.name, "description": g.description, "members": sorted(u.name for u in g.members)}
        for g in groups
    ]


def delete_group(session: Session, name: str) -> None:
    session.delete(get_group(session, name))


def add_member(session: Session, group: str, user: str) -> None:
    g, u = get_group(session, group), get_user(session, user)
    if g in u.groups:
        raise AdminError(f"user {user} is already a member of {group}")
    u.groups.append(g)


def remove_member(session: Session, group: str, user: str) -> None:
    g, u = get_group(session, group), get_user(session, user)
    if g not in u.groups:
        raise AdminError(f"user {user} is not a member of {group}")
    u.groups.remove(g)


# -- RADIUS clients ----------------------------------------------------------------------------


def parse_network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise AdminError(f"not an IP address or CIDR network: {text!r}") from None


def ensure_radius_client_absent(session: Session, name: str) -> None:
    if session.scalar(select(RadiusClient.id).where(RadiusClient.name == name)) is not None:
        raise AdminError(f"client {name} already exists")


def add_radius_client(
    session: Session,
    keyring: Keyring,
    name: str,
    address: str,
    secret: str,
    options: dict[str, Any] | None = None,
) -> RadiusClient:
    _check_name("client", name)
    network = parse_network(address)
    if not secret:
        raise AdminError("the shared secret is empty")
    ensure_radius_client_absent(session, name)
    client = RadiusClient(
        name=name,
        address=network,
        secret_enc=keyring.encrypt(secret.encode(), PURPOSE_CLIENT),
        options=dict(options or {}),
        created_at=time.time(),
    )
    session.add(client)
    _flush(session, f"client {name}")
    return client


def list_radius_clients(session: Session) -> list[dict[str, Any]]:
    clients = session.scalars(select(RadiusClient).order_by(RadiusClient.name))
    return [{"name": c.name, "address": c.address, **c.options, "created_at": c.created_at} for c in clients]


def remove_radius_client(session: Session, name: str) -> None:
    client = session.scalar(select(RadiusClient).where(RadiusClient.name == name))
    if client is None:
        raise AdminError(f"no such client: {name}")
    session.delete(client)


def radius_client_settings(session: Session, keyring: Keyring) -> list[dict[str, Any]]:
    """The stored clients as RadiusClientConfig fields (secret decrypted), for the RADIUS server."""
    return [
        {
            "name": c.name,
            "address": c.address,
            "secret": keyring.decrypt(c.secret_enc, PURPOSE_CLIENT).decode(),
            **c.options,
        }
        for c in session.scalars(select(RadiusClient).order_by(RadiusClient.name))
    ]


# -- tokens ------------------------------------------------------------------------------------


def add_token(
    session: Session,
    keyring: Keyring,
    user: str,
    type: str,
    *,
    secret: bytes | None = None,
    params: dict[str, Any] | None = None,
    counter: int = -1,
    description: str = "",
) -> Token:
    """Enrol a token; `secret` is the raw seed, sealed here and never stored in the clear."""
    owner = get_user(session, user)
    token = Token(
        user=owner,
        type=type,
        description=description,
        secret_enc=keyring.encrypt(secret, PURPOSE_TOKEN) if secret is not None else None,
        params=dict(params or {}),
        counter=counter,
        drift=0,
        fail_count=0,
        enabled=True,
        preferred=False,
        created_at=time.time(),
    )
    session.add(token)
    session.flush()
    return token


def token_summary(token: Token, user: str) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": user,
        "type": token.type,
        "description": token.description,
        "enabled": token.enabled,
        "params": dict(token.params),
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
    }


def list_tokens(session: Session, user: str | None = None) -> list[dict[str, Any]]:
    query = select(Token, User.name).join(User).order_by(User.name, Token.id)
    if user is not None:
        query = query.where(Token.user_id == get_user(session, user).id)
    return [token_summary(token, name) for token, name in session.execute(query)]


def get_token(session: Session, token_id: int) -> Token:
    token = session.get(Token, token_id)
    if token is None:
        raise AdminError(f"no such token: {token_id}")
    return token


def remove_token(session: Session, token_id: int) -> None:
    session.delete(get_token(session, token_id))


def set_token_enabled(session: Session, token_id: int, enabled: bool) -> None:
    get_token(session, token_id).enabled = enabled


# -- key rotation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedColumn:
    table: Any
    column: str
    purpose: str


# Every column that holds key ring ciphertext; `radiusd key rotate` re-encrypts all of them.
SEALED_COLUMNS = (
    SealedColumn(Token.__table__, "secret_enc", PURPOSE_TOKEN),
    SealedColumn(RadiusClient.__table__, "secret_enc", PURPOSE_CLIENT),
)


def reencrypt_all(
    db: Database,
    keyring: Keyring,
    batch_size: int = 200,
    progress: Callable[[int], None] = lambda _n: None,
) -> dict[str, int]:
    """Re-seal every ciphertext under the current key, one short transaction per batch.

    Each row is updated only if it still holds the ciphertext that was read (compare-and-set), so
    a secret changed meanwhile by someone else is never overwritten with the old value. Running
    servers keep working throughout: they read old and new key ids alike.
    """
    done: dict[str, int] = {}
    for sealed in SEALED_COLUMNS:
        table, col = sealed.table, sealed.table.c[sealed.column]
        done[table.name] = 0
        last_id = 0
        while True:
            with db.sessions.begin() as session:
                rows = session.execute(
                    select(table.c.id, col)
                    .where(table.c.id > last_id, col.is_not(None))
                    .order_by(table.c.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    break
                last_id = rows[-1].id
                changed = 0
                for row_id, ciphertext in rows:
                    if not keyring.needs_rotation(ciphertext):
                        continue
                    fresh = keyring.encrypt(keyring.decrypt(ciphertext, sealed.purpose), sealed.purpose)
                    result = session.execute(
                        update(table)
                        .where(table.c.id == row_id, col == ciphertext)
                        .values({sealed.column: fresh})
                    )
                    changed += result.rowcount
            done[table.name] += changed
            progress(len(rows))
    return done


def count_sealed(db: Database) -> int:
    """How many ciphertexts the store holds (the length of a rotation's progress bar)."""
    with db.session() as session:
        return sum(
            session.scalar(select(func.count()).select_from(s.table).where(s.table.c[s.column].is_not(None)))
            or 0
            for s in SEALED_COLUMNS
        )
