"""First-login enrolment in the store: a user's pending TOTP token, and its activation.

A pending token is a disabled TOTP token whose description is PENDING: `load_user` never loads it
(only enabled tokens decide a login), and an admin-disabled token is never taken for one. There is
at most one per user: `pending_token` serialises a user's enrolments on the user's row and reuses
or replaces what it finds. `activate` enables it with the answer's TOTP step by the same
compare-and-set as any TOTP code (`counter < :new`), in one transaction with closing the challenge,
so the code is accepted once, on any node.

Every function is blocking and takes a Database: the engine calls it through `Database.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update

from radiusd.factors.base import Match, TokenRecord
from radiusd.store.database import Database
from radiusd.store.models import Challenge, Token, User

PENDING = "pending first-login enrolment"
"""tokens.description of a token shown at first login and not yet confirmed with a code."""
ENROLLED = "enrolled at first login"


def _record(token: Token) -> TokenRecord:
    return TokenRecord(
        token.id, token.type, token.secret_enc, dict(token.params or {}), token.counter, token.drift
    )


def _pending(user_id: int) -> Any:
    return select(Token).where(
        Token.user_id == user_id,
        Token.type == "totp",
        Token.enabled.is_(False),
        Token.description == PENDING,
    )


def pending_token(
    db: Database,
    user_id: int,
    fresh_secret_enc: str,
    params: Mapping[str, Any],
    now: float,
    reusable: Callable[[TokenRecord], bool],
) -> TokenRecord:
    """The user's pending token: the existing one if `reusable` says so (same seed, so an app that
    scanned it at an earlier attempt keeps working), else a new one sealed as `fresh_secret_enc`.
    Any other pending token of the user is removed: never more than one."""
    with db.session() as s, s.begin():
        # A per-user lock: the row lock on PostgreSQL, the write lock on SQLite. Two first logins
        # of the same user at once then cannot both find nothing and both insert.
        s.execute(update(User).where(User.id == user_id).values(updated_at=User.updated_at))
        found = list(s.scalars(_pending(user_id).order_by(Token.id.desc())))
        keep = next((t for t in found if reusable(_record(t))), None)
        stale = [t.id for t in found if t is not keep]
        if stale:
            s.execute(delete(Token).where(Token.id.in_(stale)))
        if keep is not None:
            return _record(keep)
        token_id = s.execute(
            insert(Token)
            .values(
                user_id=user_id,
                type="totp",
                description=PENDING,
                secret_enc=fresh_secret_enc,
                params=dict(params),
                counter=-1,
                drift=0,
                fail_count=0,
                enabled=False,
                preferred=False,
                created_at=now,
            )
            .returning(Token.id)
        ).scalar_one()
        return TokenRecord(token_id, "totp", fresh_secret_enc, dict(params), -1, 0)


def pending_by_id(db: Database, token_id: int, user_id: int) -> TokenRecord | None:
    """The pending token a challenge points to; None once it is active, replaced or removed."""
    with db.session() as s:
        token = s.scalar(_pending(user_id).where(Token.id == token_id))
        return _record(token) if token is not None else None


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def activate(db: Database, match: Match, now: float, challenge_id: str) -> bool:
    """Enable the pending token with the code's step and close the challenge, in one transaction.

    True only for the one caller whose conditional UPDATEs both changed their row."""
    assert match.counter is not None
    with db.session() as s, s.begin():
        won = _rowcount(
            s.execute(
                update(Token)
                .where(
                    Token.id == match.token_id,
                    Token.enabled.is_(False),
                    Token.description == PENDING,
                    Token.counter < match.counter,
                )
                .values(
                    enabled=True,
                    description=ENROLLED,
                    counter=match.counter,
                    drift=match.drift,
                    last_used_at=now,
                )
            )
        )
        if won:
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
