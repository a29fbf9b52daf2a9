"""Engine fixtures: a migrated store (SQLite and PostgreSQL), a key ring, and helpers to enrol."""

from engine_support import store

__all__ = ["store"]
