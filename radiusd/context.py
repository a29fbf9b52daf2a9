"""The objects every command and server shares, built once from a validated configuration."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import cached_property

from radiusd.config import Config
from radiusd.crypto.keyring import Keyring
from radiusd.crypto.passwords import PasswordHashing
from radiusd.store.database import Database


@dataclass
class Context:
    config: Config

    @cached_property
    def db(self) -> Database:
        c = self.config.database
        return Database(self.config.database_url, c.busy_timeout, c.pool_size)

    @cached_property
    def keyring(self) -> Keyring:
        return Keyring.load(self.config.key_path)

    @cached_property
    def passwords(self) -> PasswordHashing:
        p = self.config.backends.local
        return PasswordHashing(p.time_cost, p.memory_cost, p.parallelism)

    @property
    def node(self) -> str:
        return self.config.node or socket.gethostname()

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()
