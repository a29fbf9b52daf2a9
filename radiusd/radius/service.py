"""One server process: build everything from the configuration, serve until SIGTERM, reload on SIGHUP.

Signals: SIGTERM/SIGINT stop taking packets, finish the ones in flight and exit 0; SIGHUP reloads the
configuration's clients and rules and the store's clients without closing a socket; SIGUSR1 logs the
counters (they are also logged at shutdown).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radiusd.config import Config, ConfigError, load
from radiusd.context import Context
from radiusd.engine.engine import Engine
from radiusd.engine.types import Authenticator
from radiusd.frontdoors import CurrentEngine, start_front_doors
from radiusd.radius.accounting import AccountingStore
from radiusd.radius.clients import ClientTable, load_clients
from radiusd.radius.dictionary import DictionaryError, dictionary_path, load_dictionary
from radiusd.radius.logs import configure_logging
from radiusd.radius.server import RadiusServer
from radiusd.radius.young_collections import YoungCollections

log = logging.getLogger(__name__)


class ServeError(Exception):
    """Why the server cannot start, in one line."""


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over radius: in the configuration (also after a reload)."""

    addresses: tuple[str, ...] = ()
    auth_port: int | None = None
    acct_port: int | None = None

    def apply(self, config: Config) -> Config:
        update: dict[str, Any] = {}
        if self.addresses:
            update["addresses"] = list(self.addresses)
        if self.auth_port is not None:
            update["auth_port"] = self.auth_port
        if self.acct_port is not None:
            update["acct_port"] = self.acct_port
        return config.model_copy(update={"radius": config.radius.model_copy(update=update)})


def load_config(path: Path | None, overrides: Overrides) -> Config:
    return overrides.apply(load(path))


def check_store(ctx: Context) -> None:
    """The schema is current and the key file opens: refuse to start otherwise."""
    from radiusd.store.schema import SchemaError, ensure_current

    try:
        ensure_current(ctx.db)
    except SchemaError as exc:
        raise ServeError(str(exc)) from None
    except Exception as exc:
        raise ServeError(f"cannot open the database: {exc.__class__.__name__}: {exc}") from None
    try:
        ctx.keyring  # noqa: B018 - load it now, so a missing key file stops the start
    except Exception as exc:
        raise ServeError(str(exc)) from None


def preflight(config: Config) -> ClientTable:
    """Everything that can refuse a start, done before any port is bound."""
    ctx = Context(config)
    try:
        check_store(ctx)
        try:
            load_dictionary(dictionary_path(config.radius.dictionary))
        except DictionaryError as exc:
            raise ServeError(str(exc)) from None
        return load_clients(ctx)
    finally:
        ctx.close()


@dataclass
class Service:
    config_path: Path | None
    overrides: Overrides
    reuse_port: bool = False
    ctx: Context = field(init=False)
    server: RadiusServer = field(init=False)
    front: CurrentEngine = field(init=False)
    """The engine the Jira front doors call, swapped by a reload like the RADIUS server's."""
    _stopped: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _retired: set[asyncio.Task[None]] = field(init=False, default_factory=set)

    async def run(self) -> int:
        config = load_config(self.config_path, self.overrides)
        self.ctx = Context(config)
        try:
            check_store(self.ctx)
            try:
                dictionary = load_dictionary(dictionary_path(config.radius.dictionary))
            except DictionaryError as exc:
                raise ServeError(str(exc)) from None
            clients = await self.ctx.db.run(load_clients, self.ctx)
            if not len(clients):
                log.warning("no RADIUS clients are configured: every packet will be dropped")
            r = config.radius
            self.server = RadiusServer(
                Engine(self.ctx),
                clients,
                dictionary,
                AccountingStore(self.ctx).store,
                r.duplicate_cache_seconds,
                r.request_timeout,
            )
            try:
                await self.server.start(r.addresses, r.auth_port, r.acct_port, self.reuse_port)
            except OSError as exc:
                raise ServeError(f"cannot listen: {exc.strerror or exc}") from None
            self.front = CurrentEngine(self.server.authenticator)
            self._install_signals()
            where = ", ".join(
                f"{b.host}:{b.port}/{'acct' if b.accounting else 'auth'}" for b in self.server.bound
            )
            log.info("serving RADIUS on %s with %d clients (pid %d)", where, len(clients), os.getpid())
            try:
                doors = await start_front_doors(self.ctx, self.front)
            except OSError as exc:
                raise ServeError(f"cannot listen: {exc.strerror or exc}") from None
            # Everything loaded so far (libraries, configuration, dictionaries) lives as long as
            # the process: out of the cyclic garbage collector's sight, a full collection scans
            # only what requests allocate and stops the loop for far less than ten milliseconds.
            gc.freeze()
            # And young collections on a clock rather than when CPython's count says so
            # (radiusd.radius.young_collections: the count stalls while caches churn).
            young = YoungCollections(asyncio.get_running_loop())
            young.start()
            await self._stopped.wait()
            young.stop()
            for door in doors:
                await door.close()
            await self.server.stop(r.request_timeout)
            if self._retired:
                await asyncio.wait(self._retired, timeout=r.request_timeout)
            await _close(self.server.authenticator)
            self.log_counters("at shutdown")
            return 0
        finally:
            self.ctx.close()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._spawn_reload)
        loop.add_signal_handler(signal.SIGUSR1, self.log_counters)

    def stop(self) -> None:
        if not self._stopped.is_set():
            log.info("stopping: finishing requests in flight")
        self._stopped.set()

    def log_counters(self, when: str = "on request") -> None:
        counts = self.server.counters.snapshot()
        log.info("counters %s (pid %d): %s", when, os.getpid(), json.dumps(counts, sort_keys=True))

    def _spawn_reload(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def reload(self) -> None:
        """New clients and a new engine (rules) between two packets; the old engine finishes the
        requests it already has, then closes. Listening addresses and the store need a restart."""
        try:
            config = load_config(self.config_path, self.overrides)
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration:\n%s", exc)
            return
        old = self.ctx.config
        if config.radius.addresses != old.radius.addresses or (
            (config.radius.auth_port, config.radius.acct_port) != (old.radius.auth_port, old.radius.acct_port)
        ):
            log.warning("reload: listening addresses and ports change only with a restart")
        if config.database_url != old.database_url:
            log.warning("reload: the database changes only with a restart")
        ctx = Context(config)
        ctx.__dict__.update(db=self.ctx.db, keyring=self.ctx.keyring)  # share the open store
        try:
            clients = await self.ctx.db.run(load_clients, ctx)
            engine = Engine(ctx)
        except Exception as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return
        in_flight = set(self.server.inflight)
        retired = self.server.reload(clients, engine)
        self.front.swap(engine)
        self.ctx = ctx
        log.info("reloaded: %d clients", len(clients))
        if in_flight:
            await asyncio.wait(in_flight)
        await self.front.finished(retired)
        await _close(retired)


async def _close(authenticator: Authenticator) -> None:
    close = getattr(authenticator, "close", None)
    if close is not None:
        await close()


def run_process(config_path: Path | None, overrides: Overrides, reuse_port: bool) -> int:
    configure_logging(load_config(config_path, overrides).log)
    return asyncio.run(Service(config_path, overrides, reuse_port).run())
