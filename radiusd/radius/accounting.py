"""Accounting-Request → models.AccountingRecord. Stored before the Accounting-Response is sent, so an
answered request always has its record (RFC 2866 section 2: the client retransmits until answered)."""

from __future__ import annotations

import time
from typing import Any

from radiusd.context import Context
from radiusd.radius import codec
from radiusd.store.models import AccountingRecord

_NOT_STORED = {"User-Password", "CHAP-Password", "Message-Authenticator", "Tunnel-Password"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, dict):
        return {str(k): [_jsonable(v) for v in vs] for k, vs in value.items()}
    if isinstance(value, str | int | float):
        return value
    return str(value)


def _attributes(packet: codec.Packet) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for key in packet.keys():  # noqa: SIM118 - pyrad names keys() only; iteration gives codes
        if key in _NOT_STORED:
            continue
        if isinstance(key, str):
            try:
                values = [_jsonable(v) for v in packet[key]]
            except Exception:  # a value the dictionary type cannot decode: keep it raw
                values = [_jsonable(v) for v in dict.__getitem__(packet, packet._EncodeKey(key))]
            out[key] = values
        else:
            name = f"Attr-{key[0]}-{key[1]}" if isinstance(key, tuple) else f"Attr-{key}"
            out[name] = [_jsonable(v) for v in dict.__getitem__(packet, key)]
    return out


def _first(attributes: dict[str, list[Any]], name: str) -> str:
    values = attributes.get(name)
    return str(values[0])[:255] if values else ""


def accounting_row(packet: codec.Packet, client: str, source: str) -> dict[str, Any]:
    attributes = _attributes(packet)
    return {
        "at": time.time(),
        "client": client[:255],
        "source": source[:64],
        "user": _first(attributes, "User-Name"),
        "status_type": _first(attributes, "Acct-Status-Type")[:32],
        "session_id": _first(attributes, "Acct-Session-Id"),
        "attributes": attributes,
    }


class AccountingStore:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def store(self, row: dict[str, Any]) -> None:
        await self.ctx.db.run(self._insert, row)

    def _insert(self, row: dict[str, Any]) -> None:
        with self.ctx.db.session() as session, session.begin():
            session.execute(AccountingRecord.__table__.insert().values(**row))
