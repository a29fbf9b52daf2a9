"""Security questions: a knowledge-based second factor, as some Jira add-ons offer.

The user enrols answers to chosen questions; each answer is normalised (Unicode NFKC, case folded,
runs of spaces made one) and stored as an argon2id hash in token_items, with the question as the
label. At login one question is drawn at random and stays the question of that challenge: sending
the password again while it is open asks the same one, so nobody can shop for a question they know.
"""

from __future__ import annotations

import secrets
import time
import unicodedata
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import select

from radiusd.crypto.passwords import PasswordHashing
from radiusd.factors.base import (
    ChallengeRecord,
    ChallengeStart,
    Factor,
    FactorError,
    Match,
    TokenRecord,
    UserRecord,
)
from radiusd.factors.sent_code import PROMPT_WIDTH, find_open, fit
from radiusd.store.database import Database
from radiusd.store.models import TokenItem

if TYPE_CHECKING:
    from radiusd.config.engine import ChallengeSettings
    from radiusd.context import Context
    from radiusd.crypto.keyring import Keyring
    from radiusd.engine.types import AuthRequest

_VERIFIER = PasswordHashing()
"""argon2 reads its parameters from the stored hash, so any instance verifies any answer."""


def normalise_answer(answer: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", answer).casefold().split())


def check_question(question: str) -> str:
    """A question fit to be a prompt: one line of printable ASCII, at most PROMPT_WIDTH long."""
    question = " ".join(question.split())
    if not question:
        raise ValueError("the question is empty")
    if len(question) > PROMPT_WIDTH or not question.isascii() or not question.isprintable():
        raise ValueError(f"a question must be printable ASCII of at most {PROMPT_WIDTH} characters")
    return question


def check_answer_text(answer: str) -> str:
    normalised = normalise_answer(answer)
    if len(normalised) < 2:
        raise ValueError("an answer needs at least 2 characters")
    return normalised


def answer_rows(passwords: PasswordHashing, pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """token_items values (label, value_hash) for (question, answer) pairs, checked and hashed."""
    rows = [
        {"label": check_question(q), "value_hash": passwords.hash(check_answer_text(a))} for q, a in pairs
    ]
    if len({r["label"] for r in rows}) != len(rows):
        raise ValueError("each question may be asked only once")
    return rows


def load_questions(db: Database, token_id: int) -> list[tuple[str, str]]:
    with db.session() as s:
        rows = s.execute(
            select(TokenItem.label, TokenItem.value_hash).where(
                TokenItem.token_id == token_id, TokenItem.used_at.is_(None)
            )
        ).all()
    return [(r.label, r.value_hash) for r in rows]


class QuestionsFactor(Factor):
    name: ClassVar[str] = "questions"

    async def start(
        self,
        ctx: Context,
        user: UserRecord,
        token: TokenRecord,
        settings: ChallengeSettings,
        request: AuthRequest | None = None,
    ) -> ChallengeStart | None:
        reopened = await ctx.db.run(
            find_open, ctx.db, user.id, token.id, request.client if request else "", time.time()
        )
        if reopened:
            return ChallengeStart(reopened[1], reuse=reopened[0])
        questions = await ctx.db.run(load_questions, ctx.db, token.id)
        if not questions:
            raise FactorError("No security question is set up", reason="none enrolled")
        question, answer_hash = secrets.choice(questions)
        return ChallengeStart(fit(question), context={"answer_hash": answer_hash})

    def check_answer(
        self, token: TokenRecord, challenge: ChallengeRecord, answer: str, now: float, keyring: Keyring
    ) -> Match | None:
        """argon2: the engine runs this off the event loop."""
        stored = challenge.context.get("answer_hash")
        if not isinstance(stored, str) or stored not in token.items:
            return None  # the question was removed since it was asked
        return Match(token.id) if _VERIFIER.verify(stored, normalise_answer(answer)) else None
