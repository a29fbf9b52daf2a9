"""RADIUS clients: who may talk to us, with which secret and which security switches.

Clients come from the configuration (radius.clients) and from the store (radius_clients, secrets
sealed with the key ring). A source address matches the client with the most specific network.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from radiusd.config.radius import RadiusClientConfig
from radiusd.context import Context
from radiusd.crypto.keyring import PURPOSE_CLIENT, KeyringError
from radiusd.store.models import RadiusClient

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    network: IPNetwork
    secret: bytes
    require_message_authenticator: bool = True
    limit_proxy_state: bool = False
    reply_message_authenticator: bool = True
    source_attribute: str | None = None

    @classmethod
    def from_config(cls, c: RadiusClientConfig) -> Client:
        return cls(
            name=c.name,
            network=ipaddress.ip_network(c.address, strict=False),
            secret=c.secret.encode(),
            require_message_authenticator=c.require_message_authenticator,
            limit_proxy_state=c.limit_proxy_state,
            reply_message_authenticator=c.reply_message_authenticator,
            source_attribute=c.source_attribute,
        )


def canonical_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as the rules should see it: no IPv6 scope, IPv4-mapped IPv6 as IPv4."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


class ClientTable:
    def __init__(self, clients: Iterable[Client]) -> None:
        self._clients = list(clients)
        self._hosts: dict[str, Client] = {}
        networks: list[Client] = []
        for client in self._clients:
            net = client.network
            if net.prefixlen == net.max_prefixlen:
                self._hosts.setdefault(str(net.network_address), client)
            else:
                networks.append(client)
        self._networks = sorted(networks, key=lambda c: c.network.prefixlen, reverse=True)
        self._cache: dict[str, Client | None] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[Client]:
        return iter(self._clients)

    def lookup(self, host: str) -> Client | None:
        """The client for a packet's source address, or None. Cached per address string."""
        try:
            return self._cache[host]
        except KeyError:
            pass
        client = self._match(host)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()  # spoofed sources must not grow memory
        self._cache[host] = client
        return client

    def _match(self, host: str) -> Client | None:
        try:
            address = canonical_address(host)
        except ValueError:
            return None
        exact = self._hosts.get(str(address))
        if exact is not None:
            return exact
        for client in self._networks:
            if address.version == client.network.version and address in client.network:
                return client
        return None


def _from_row(ctx: Context, row: RadiusClient) -> Client | None:
    try:
        secret = ctx.keyring.decrypt(row.secret_enc, PURPOSE_CLIENT).decode()
        options: dict[str, Any] = dict(row.options or {})
        checked = RadiusClientConfig.model_validate(
            {**options, "name": row.name, "address": row.address, "secret": secret}
        )
    except (KeyringError, UnicodeDecodeError) as exc:
        log.error("RADIUS client %r in the store: cannot open its secret (%s); skipped", row.name, exc)
        return None
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        log.error("RADIUS client %r in the store is invalid (%s); skipped", row.name, reasons)
        return None
    return Client.from_config(checked)


def load_clients(ctx: Context) -> ClientTable:
    """Configuration clients first, then the store's (blocking: call through ctx.db.run).

    A store client whose name or network a configured client already uses is skipped with a warning.
    """
    clients = [Client.from_config(c) for c in ctx.config.radius.clients]
    names = {c.name for c in clients}
    networks = {c.network for c in clients}
    with ctx.db.session() as session:
        rows = session.scalars(select(RadiusClient).order_by(RadiusClient.id)).all()
    for row in rows:
        client = _from_row(ctx, row)
        if client is None:
            continue
        if client.name in names or client.network in networks:
            log.warning("RADIUS client %r in the store duplicates a configured one; skipped", row.name)
            continue
        names.add(client.name)
        networks.add(client.network)
        clients.append(client)
    for client in clients:
        if not client.require_message_authenticator:
            log.warning(
                "RADIUS client %r: require_message_authenticator is off (BlastRADIUS, CVE-2024-3596); "
                "Access-Requests with Proxy-State and no Message-Authenticator are still dropped",
                client.name,
            )
    return ClientTable(clients)
