"""The engine's queries: load a user in one round trip, consume a code by compare-and-set, and
create and take challenges.

Every function takes a Database and is blocking: the engine calls it through `Database.run`.
Correctness under concurrency rests on conditional UPDATEs whose row count decides, never on a
row read, changed in Python and written back: two workers or two nodes racing for the same code
cannot both see rowcount 1.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)

from radiusd.factors.base import ChallengeRecord, Match, TokenRecord, UserRecord
from radiusd.store.database import Database
from radiusd.store.models import Challenge, Group, Lock, Membership, RateEvent, Token, TokenItem, User

# Challenges are kept this long past their expiry (for `radiusd check` and troubleshooting),
# then removed when a new one is opened.
CHALLENGE_KEEP = 3600.0

FAIL_USER = "fail:user"
"""rate_events.kind of a user's failure (radiusd.engine.lockout counts them)."""

# The hot-path statements are built once here, with bind parameters, and run through Core on a
# kept Connection (`Database.read` / `Database.write`): SQLAlchemy compiles each once per dialect
# and finds it in its cache by the statement's memoised key, with no ORM layer in between.

_USER_COLUMNS = (
    User.id,
    User.name,
    User.enabled,
    User.password_hash,
    User.backend,
    User.email,
    User.phone,
    User.created_at,
    Token.id.label("token_id"),
    Token.type,
    Token.secret_enc,
    Token.params,
    Token.counter,
    Token.drift,
    Token.preferred,
    TokenItem.value_hash,
)


def _user_rows(where: Any) -> Any:
    has_failures = exists().where(RateEvent.kind == FAIL_USER, RateEvent.key == bindparam("user_key"))
    return (
        select(*_USER_COLUMNS, has_failures.label("has_failures"))
        .outerjoin(Token, and_(Token.user_id == User.id, Token.enabled.is_(True)))
        .outerjoin(TokenItem, and_(TokenItem.token_id == Token.id, TokenItem.used_at.is_(None)))
        .where(where)
        .order_by(Token.id, TokenItem.id)
    )


_USER_BY_NAME = _user_rows(User.name == bindparam("name"))
_USER_BY_ID = _user_rows(User.id == bindparam("user_id"))
_GROUPS = (
    select(Group.name)
    .join(Membership, Membership.group_id == Group.id)
    .where(Membership.user_id == bindparam("user_id"))
)
# The user's groups and the active locks of the user and of the candidate source keys, in one
# statement: (kind, a, b) is ("group", name, "") or (lock scope, key, set_by).
_GROUPS_AND_LOCKS = union_all(
    select(literal("group").label("kind"), Group.name.label("a"), literal("").label("b"))
    .join(Membership, Membership.group_id == Group.id)
    .join(User, User.id == Membership.user_id)
    .where(User.name == bindparam("name")),
    select(Lock.scope, Lock.key, Lock.set_by).where(
        or_(
            and_(Lock.scope == "user", Lock.key == bindparam("user_key")),
            and_(Lock.scope == "source", Lock.key.in_([bindparam("src1"), bindparam("src2")])),
        ),
        or_(Lock.until.is_(None), Lock.until > bindparam("now")),
    ),
)

_CAS_COUNTER = (
    update(Token)
    .where(Token.id == bindparam("tid"), Token.counter < bindparam("new_counter"))
    .values(counter=bindparam("new_counter"), drift=bindparam("new_drift"), last_used_at=bindparam("now"))
)
_CAS_ITEM = (
    update(TokenItem)
    .where(
        TokenItem.token_id == bindparam("tid"),
        TokenItem.value_hash == bindparam("item_hash"),
        TokenItem.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
)
_TOKEN_USED = update(Token).where(Token.id == bindparam("tid")).values(last_used_at=bindparam("now"))
_CLOSE_CHALLENGE = (
    update(Challenge)
    .where(Challenge.id == bindparam("challenge_id"), Challenge.done_at.is_(None))
    .values(done_at=bindparam("now"))
)
CLEAR_FAILURES = delete(RateEvent).where(RateEvent.kind == FAIL_USER, RateEvent.key == bindparam("user_key"))


@dataclass(frozen=True, slots=True)
class LockRow:
    scope: str
    key: str
    set_by: str


@dataclass(frozen=True, slots=True)
class Login:
    """What a new login reads in one store round trip."""

    user: UserRecord | None
    locks: tuple[LockRow, ...]
    """Active locks of the user's key and of the candidate source keys."""
    has_failures: bool
    """Whether the user's key has failure events (an accept then clears them)."""


# Positions in a row of _USER_COLUMNS: rows are read by position, so that Core's Rows and the
# plain tuples of the driver (RawStatement) go through the same code.
_ID, _NAME, _ENABLED, _PASSWORD_HASH, _BACKEND, _EMAIL, _PHONE, _CREATED_AT = range(8)
_TOKEN_ID, _TYPE, _SECRET_ENC, _PARAMS, _COUNTER, _DRIFT, _PREFERRED, _ITEM_HASH = range(8, 16)
_HAS_FAILURES = 16


def _params(value: Any) -> Mapping[str, Any]:
    """tokens.params, read-only: psycopg (and Core) decode the JSON, sqlite3 hands over the text."""
    if isinstance(value, str):
        return _params_text(value)
    return MappingProxyType(value or {})


@functools.lru_cache(maxsize=256)
def _params_text(text: str) -> Mapping[str, Any]:
    # A handful of distinct values (digits, algorithm, period): each parsed once, then shared.
    return MappingProxyType(json.loads(text))


def _record(rows: Any, groups: frozenset[str]) -> UserRecord:
    first = rows[0]
    tokens: dict[int, tuple[Any, list[str]]] = {}
    for r in rows:
        token_id = r[_TOKEN_ID]
        if token_id is None:
            continue
        entry = tokens.get(token_id)
        if entry is None:
            entry = tokens[token_id] = (r, [])
        if r[_ITEM_HASH] is not None:
            entry[1].append(r[_ITEM_HASH])
    return UserRecord(
        id=first[_ID],
        name=first[_NAME],
        enabled=bool(first[_ENABLED]),
        password_hash=first[_PASSWORD_HASH],
        backend=first[_BACKEND],
        email=first[_EMAIL],
        phone=first[_PHONE],
        created_at=first[_CREATED_AT],
        groups=groups,
        tokens=tuple(
            TokenRecord(
                token_id,
                t[_TYPE],
                t[_SECRET_ENC],
                _params(t[_PARAMS]),
                t[_COUNTER],
                t[_DRIFT],
                bool(t[_PREFERRED]),
                tuple(items),
            )
            for token_id, (t, items) in tokens.items()
        ),
    )


class RawStatement:
    """A hot statement compiled once per dialect from its Core form and run on the DB-API
    connection itself (sqlite3 or psycopg): the same SQL as through Core, without Core's work
    per execution (on SQLite 60 against 25 µs for the login's read; on PostgreSQL 510 against
    240 µs of CPU). Rows come back as the driver's plain tuples, read by position; values that
    Core would convert are converted by their reader (`_record`: booleans and JSON on SQLite).
    A driver error is not wrapped by SQLAlchemy: `Database` tells a lost connection by the
    driver's own state."""

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self._compiled: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}

    def _for(self, conn: Connection) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        found = self._compiled.get(conn.dialect.name)
        if found is None:
            compiled = self.stmt.compile(dialect=conn.dialect)
            found = self._compiled[conn.dialect.name] = (str(compiled), _binder(compiled))
        return found

    def execute(self, conn: Connection, params: dict[str, Any]) -> Any:
        """The statement run by the driver with these bind parameters; the DB-API cursor."""
        sql, bind = self._for(conn)
        raw = conn.connection.driver_connection
        assert raw is not None
        return raw.execute(sql, bind(params))

    def executemany(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        sql, bind = self._for(conn)
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.cursor().executemany(sql, [bind(row) for row in rows])

    def rowcount(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run an UPDATE or DELETE: the number of rows it changed."""
        return int(self.execute(conn, params).rowcount)

    def fetchall(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self.execute(conn, params).fetchall()  # type: ignore[no-any-return]


def _binder(compiled: Any) -> Callable[[dict[str, Any]], Any]:
    """The driver's parameters from the caller's dict and the statement's own literals: a tuple in
    the statement's order for a positional style (sqlite3's "?"), a dict for a named one
    (psycopg's "%(name)s")."""
    fixed = dict(compiled.params)
    if not compiled.positiontup:
        return lambda params: {**fixed, **params}
    pick = operator.itemgetter(*compiled.positiontup)
    if len(compiled.positiontup) == 1:
        return lambda params: (pick({**fixed, **params}),)
    return lambda params: pick({**fixed, **params})


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


_RAW_CAS_COUNTER = RawStatement(_CAS_COUNTER)
_RAW_CAS_ITEM = RawStatement(_CAS_ITEM)
_RAW_TOKEN_USED = RawStatement(_TOKEN_USED)
_RAW_CLOSE_CHALLENGE = RawStatement(_CLOSE_CHALLENGE)
RAW_CLEAR_FAILURES = RawStatement(CLEAR_FAILURES)
_RAW_USER_BY_NAME = RawStatement(_USER_BY_NAME)
_RAW_GROUPS_AND_LOCKS = RawStatement(_GROUPS_AND_LOCKS)


def read_login(
    conn: Connection, name: str, user_key: str, sources: tuple[str | None, ...], now: float
) -> Login:
    src1 = sources[0] if sources else None
    src2 = sources[1] if len(sources) > 1 else src1
    user_params = {"name": name, "user_key": user_key}
    extra_params = {"name": name, "user_key": user_key, "src1": src1, "src2": src2, "now": now}
    return login_from_rows(
        _RAW_USER_BY_NAME.fetchall(conn, user_params), _RAW_GROUPS_AND_LOCKS.fetchall(conn, extra_params)
    )


def login_from_rows(rows: Any, extra: Any) -> Login:
    """The Login in rows of _USER_BY_NAME and of _GROUPS_AND_LOCKS ((kind, a, b) each)."""
    groups = frozenset([r[1] for r in extra if r[0] == "group"])
    locks = tuple([LockRow(r[0], r[1], r[2]) for r in extra if r[0] != "group"]) if extra else ()
    if not rows:
        return Login(None, locks, False)
    return Login(_record(rows, groups), locks, bool(rows[0][_HAS_FAILURES]))


def load_login(db: Database, name: str, user_key: str, sources: tuple[str | None, ...], now: float) -> Login:
    """The user with groups, enabled tokens and unused item hashes (None if unknown), the active
    locks of the user's key and of up to two candidate source keys, and whether the user's key
    has failure events: two statements on one kept connection (the engine awaits `read_login`
    through `Database.read_async`)."""
    return db.read(read_login, name, user_key, sources, now)


def _read_user(conn: Connection, stmt: Any, params: dict[str, Any]) -> UserRecord | None:
    rows = conn.execute(stmt, params).all()
    if not rows:
        return None
    groups = frozenset(conn.scalars(_GROUPS, {"user_id": rows[0][_ID]}))
    return _record(rows, groups)


def load_user(db: Database, name: str) -> UserRecord | None:
    """The user with groups, enabled tokens and their unused item hashes; None if unknown."""
    return db.read(_read_user, _USER_BY_NAME, {"name": name, "user_key": None})


def load_user_by_id(db: Database, user_id: int) -> UserRecord | None:
    return db.read(_read_user, _USER_BY_ID, {"user_id": user_id, "user_key": None})


def consume_in(
    conn: Connection, match: Match, now: float, challenge_id: str | None, clear_failures: str | None
) -> tuple[bool, bool]:
    """`consume` inside the caller's transaction: (won, commit); nothing is kept unless won."""
    if match.counter is not None:
        won = _RAW_CAS_COUNTER.rowcount(
            conn,
            {"tid": match.token_id, "new_counter": match.counter, "new_drift": match.drift, "now": now},
        )
    elif match.item_hash is not None:
        won = _RAW_CAS_ITEM.rowcount(conn, {"tid": match.token_id, "item_hash": match.item_hash, "now": now})
        if won:
            _RAW_TOKEN_USED.rowcount(conn, {"tid": match.token_id, "now": now})
    else:
        won = 1  # nothing but the challenge itself is consumed
    if won and challenge_id is not None:
        won = _RAW_CLOSE_CHALLENGE.rowcount(conn, {"challenge_id": challenge_id, "now": now})
    if won != 1:
        return False, False
    if clear_failures is not None:
        RAW_CLEAR_FAILURES.rowcount(conn, {"user_key": clear_failures})
    return True, True


def consume(
    db: Database,
    match: Match,
    now: float,
    challenge_id: str | None = None,
    clear_failures: str | None = None,
) -> bool:
    """Use up a matched code (and close the challenge it answers) in one transaction.

    True only for the one caller whose conditional UPDATE changed the row; the challenge is closed
    in the same transaction, so a lost race leaves both untouched. With `clear_failures` (a user's
    lockout key), the user's failure events are deleted in the same transaction, on success only.
    """
    return db.write(consume_in, match, now, challenge_id, clear_failures)


def create_challenge(
    db: Database,
    *,
    state: str,
    user_id: int,
    token_id: int | None,
    factor: str,
    code_hash: str | None,
    client: str,
    source: str | None,
    context: Mapping[str, Any],
    now: float,
    validity: float,
    max_attempts: int,
) -> None:
    with db.session() as s, s.begin():
        s.execute(delete(Challenge).where(Challenge.expires_at < now - CHALLENGE_KEEP))
        s.execute(
            insert(Challenge).values(
                id=state,
                user_id=user_id,
                token_id=token_id,
                factor=factor,
                code_hash=code_hash,
                client=client,
                source=source,
                context=dict(context),
                created_at=now,
                expires_at=now + validity,
                attempts=0,
                max_attempts=max_attempts,
            )
        )


def take_challenge(
    db: Database, state: str, user: str, client: str, now: float
) -> tuple[ChallengeRecord, UserRecord] | None:
    """Count one answer to an open challenge and return it with its user.

    None when the state is unknown, expired, already answered, out of attempts, or belongs to
    another user or client: the conditional UPDATE counts the attempt only when all of that holds.
    """
    owner = select(User.id).where(User.name == user).scalar_subquery()
    with db.session() as s, s.begin():
        taken = _rowcount(
            s.execute(
                update(Challenge)
                .where(
                    Challenge.id == state,
                    Challenge.done_at.is_(None),
                    Challenge.expires_at > now,
                    Challenge.attempts < Challenge.max_attempts,
                    Challenge.client == client,
                    Challenge.user_id == owner,
                )
                .values(attempts=Challenge.attempts + 1)
            )
        )
        if taken != 1:
            return None
        record = _challenge_record(s.execute(select(Challenge).where(Challenge.id == state)).scalar_one())
    loaded = load_user_by_id(db, record.user_id)
    return (record, loaded) if loaded is not None else None


def _challenge_record(row: Challenge) -> ChallengeRecord:
    return ChallengeRecord(
        id=row.id,
        user_id=row.user_id,
        token_id=row.token_id,
        factor=row.factor,
        code_hash=row.code_hash,
        context=dict(row.context or {}),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
    )


def open_code_challenges(db: Database, user_id: int, client: str, now: float) -> list[ChallengeRecord]:
    """The user's open challenges of sent codes (email, SMS) for this client, newest first.

    Read only: a front door that cannot carry a challenge (LDAP, Crowd) answers one with
    "password followed by the code" in a later request; the engine counts that answer with
    `take_challenge` or `count_attempts`.
    """
    with db.session() as s:
        rows = s.scalars(
            select(Challenge)
            .where(
                Challenge.user_id == user_id,
                Challenge.client == client,
                Challenge.code_hash.is_not(None),
                Challenge.done_at.is_(None),
                Challenge.expires_at > now,
                Challenge.attempts < Challenge.max_attempts,
            )
            .order_by(Challenge.created_at.desc())
            .limit(4)
        ).all()
        return [_challenge_record(r) for r in rows]


def count_attempts(db: Database, ids: list[str], now: float) -> None:
    """One failed answer against each of these challenges, if still open (conditional UPDATE)."""
    with db.session() as s, s.begin():
        s.execute(
            update(Challenge)
            .where(
                Challenge.id.in_(ids),
                Challenge.done_at.is_(None),
                Challenge.expires_at > now,
                Challenge.attempts < Challenge.max_attempts,
            )
            .values(attempts=Challenge.attempts + 1)
        )
