"""Users and groups as Jira's Crowd client sees them, read from radiusd's store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from radiusd.store.database import Database
from radiusd.store.models import Group, User


@dataclass(frozen=True, slots=True)
class CrowdUser:
    name: str
    email: str
    active: bool
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CrowdGroup:
    name: str
    description: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    users: dict[str, CrowdUser]
    groups: dict[str, CrowdGroup]


def read_store(db: Database) -> Snapshot:
    """The whole directory in one read: Jira asks for all of it at each synchronisation anyway."""
    with db.session() as s:
        users = s.scalars(select(User).options(selectinload(User.groups)).order_by(User.name)).all()
        groups = s.scalars(select(Group).options(selectinload(Group.members)).order_by(Group.name)).all()
        return Snapshot(
            {
                u.name: CrowdUser(u.name, u.email or "", u.enabled, tuple(sorted(g.name for g in u.groups)))
                for u in users
            },
            {
                g.name: CrowdGroup(g.name, g.description, tuple(sorted(m.name for m in g.members)))
                for g in groups
            },
        )
