"""The engine's queries: load a user in one round trip, consume a code by compare-and-set, and
create and take challenges.

Every function takes a Database and is blocking: the engine calls it through `Database.run`.
Correctness under concurrency rests on conditional UPDATEs whose row count decides, never on a
row read, changed in Python and written back: two workers or two nodes racing for the same code
cannot both see rowcount 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, and_, delete, insert, select, update

from radiusd.factors.base import ChallengeRecord, Match, TokenRecord, UserRecord
from radiusd.store.database import Database
from radiusd.store.models import Challenge, Group, Membership, Token, TokenItem, User

# Challenges are kept this long past their expiry (for `radiusd check` and troubleshooting),
# then removed when a new one is opened.
CHALLENGE_KEEP = 3600.0

_USER_WITH_TOKENS = (
    select(
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
    .outerjoin(Token, and_(Token.user_id == User.id, Token.enabled.is_(True)))
    .outerjoin(TokenItem, and_(TokenItem.token_id == Token.id, TokenItem.used_at.is_(None)))
    .order_by(Token.id, TokenItem.id)
)
_GROUPS = select(Group.name).join(Membership, Membership.group_id == Group.id)


def _load(db: Database, where: Any) -> UserRecord | None:
    with db.session() as s:
        rows = s.execute(_USER_WITH_TOKENS.where(where)).all()
        if not rows:
            return None
        first = rows[0]
        groups = frozenset(s.scalars(_GROUPS.where(Membership.user_id == first.id)))
    tokens: dict[int, Any] = {}
    items: dict[int, list[str]] = {}
    for r in rows:
        if r.token_id is None:
            continue
        if r.token_id not in tokens:
            tokens[r.token_id] = r
            items[r.token_id] = []
        if r.value_hash is not None:
            items[r.token_id].append(r.value_hash)
    return UserRecord(
        id=first.id,
        name=first.name,
        enabled=first.enabled,
        password_hash=first.password_hash,
        backend=first.backend,
        email=first.email,
        phone=first.phone,
        created_at=first.created_at,
        groups=groups,
        tokens=tuple(
            TokenRecord(
                i, t.type, t.secret_enc, t.params or {}, t.counter, t.drift, t.preferred, tuple(items[i])
            )
            for i, t in tokens.items()
        ),
    )


def load_user(db: Database, name: str) -> UserRecord | None:
    """The user with groups, enabled tokens and their unused item hashes; None if unknown."""
    return _load(db, User.name == name)


def load_user_by_id(db: Database, user_id: int) -> UserRecord | None:
    return _load(db, User.id == user_id)


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def consume(db: Database, match: Match, now: float, challenge_id: str | None = None) -> bool:
    """Use up a matched code (and close the challenge it answers) in one transaction.

    True only for the one caller whose conditional UPDATE changed the row; the challenge is closed
    in the same transaction, so a lost race leaves both untouched.
    """
    with db.session() as s, s.begin():
        if match.counter is not None:
            won = _rowcount(
                s.execute(
                    update(Token)
                    .where(Token.id == match.token_id, Token.counter < match.counter)
                    .values(counter=match.counter, drift=match.drift, last_used_at=now)
                )
            )
        elif match.item_hash is not None:
            won = _rowcount(
                s.execute(
                    update(TokenItem)
                    .where(
                        TokenItem.token_id == match.token_id,
                        TokenItem.value_hash == match.item_hash,
                        TokenItem.used_at.is_(None),
                    )
                    .values(used_at=now)
                )
            )
            if won:
                s.execute(update(Token).where(Token.id == match.token_id).values(last_used_at=now))
        else:
            won = 1  # nothing but the challenge itself is consumed
        if won and challenge_id is not None:
            won = _rowcount(
                s.execute(
                    update(Challenge)
                    .where(Challenge.id == challenge_id, Challenge.done_at.is_(None))
                    .values(done_at=now)
                )
            )
        if won != 1:
            s.rollback()
            return False
    return True


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
        row = s.execute(select(Challenge).where(Challenge.id == state)).scalar_one()
        record = ChallengeRecord(
            id=row.id,
            user_id=row.user_id,
            token_id=row.token_id,
            factor=row.factor,
            code_hash=row.code_hash,
            context=dict(row.context or {}),
            attempts=row.attempts,
            max_attempts=row.max_attempts,
        )
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
