"""The SQL schema: everything that decides an outcome lives here, so any worker or node can answer.

Times are UTC epoch seconds (double precision): portable between SQLite and PostgreSQL, cheap to
compare in sliding-window queries, and converted for display only at the edges.
Secrets are stored as keyring ciphertext strings (see radiusd.crypto.keyring), never in the clear.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[object, object]] = {dict[str, Any]: JSON, float: Float(precision=53)}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    backend: Mapped[str | None] = mapped_column(String(64))
    """First-factor backend for this user; None means the configured default or realm."""
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float]
    updated_at: Mapped[float]

    tokens: Mapped[list[Token]] = relationship(back_populates="user", cascade="all, delete-orphan")
    groups: Mapped[list[Group]] = relationship(secondary="memberships", back_populates="members")


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(String(1024), default="")
    created_at: Mapped[float]

    members: Mapped[list[User]] = relationship(secondary="memberships", back_populates="groups")


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)


class RadiusClient(Base):
    __tablename__ = "radius_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    address: Mapped[str] = mapped_column(String(64))
    """An address or CIDR network."""
    secret_enc: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Per-client switches (require_message_authenticator, limit_proxy_state …), as in the config."""
    created_at: Mapped[float]


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    """totp, hotp, yubikey, backup, email, sms, questions, webauthn."""
    description: Mapped[str] = mapped_column(String(255), default="")
    secret_enc: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Factor parameters that are not secret (digits, algorithm, period, public id …)."""
    counter: Mapped[int] = mapped_column(BigInteger, default=-1)
    """Replay counter: the last accepted TOTP step, HOTP counter or YubiKey usage counter.
    Advanced only by a conditional UPDATE (compare-and-set), never read-modify-write."""
    drift: Mapped[int] = mapped_column(Integer, default=0)
    """TOTP clock drift in steps, learned on success."""
    fail_count: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    """Among several challenge factors, the one used first."""
    created_at: Mapped[float]
    last_used_at: Mapped[float | None]

    user: Mapped[User] = relationship(back_populates="tokens")
    items: Mapped[list[TokenItem]] = relationship(cascade="all, delete-orphan")


class TokenItem(Base):
    """Per-token hashed items: backup codes (single use) and security-question answers."""

    __tablename__ = "token_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    """The question for an answer; empty for a backup code."""
    value_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[float | None]


class Challenge(Base):
    """An open challenge. Lives in the store so that any worker or node can take the answer."""

    __tablename__ = "challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The state sent to the client (random, unguessable)."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"))
    factor: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str | None] = mapped_column(String(255))
    """Hash of the code sent by email or SMS; None when the user's own token answers."""
    client: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[float]
    expires_at: Mapped[float] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    done_at: Mapped[float | None]


class RateEvent(Base):
    """One counted event in a sliding window: a failure per user or per source, a code sent …"""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_kind_key_at", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[float]


class Lock(Base):
    """A lock on a user or a source address: temporary (automatic, expires) or set by an admin."""

    __tablename__ = "locks"
    __table_args__ = (UniqueConstraint("scope", "key", "set_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    """user or source."""
    key: Mapped[str] = mapped_column(String(255))
    set_by: Mapped[str] = mapped_column(String(16))
    """auto or admin."""
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[float]
    until: Mapped[float | None]
    """None: until an admin clears it."""


class AuditEvent(Base):
    """Every decision. Never holds a password, a code or a secret."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_user_at", "user", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[float] = mapped_column(index=True)
    frontdoor: Mapped[str] = mapped_column(String(16))
    client: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str | None] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(255), default="")
    factor: Mapped[str] = mapped_column(String(16), default="")
    result: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(255), default="")
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    node: Mapped[str] = mapped_column(String(64), default="")


class AccountingRecord(Base):
    __tablename__ = "accounting_records"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[float] = mapped_column(index=True)
    client: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(255), default="")
    status_type: Mapped[str] = mapped_column(String(32), default="")
    session_id: Mapped[str] = mapped_column(String(255), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
