"""Which packets may be answered: the code fits the port, the authenticators verify, and the
BlastRADIUS (CVE-2024-3596) rules hold. Runs before any attribute is decoded."""

from __future__ import annotations

from radiusd.radius import counters
from radiusd.radius.clients import Client
from radiusd.radius.codec import (
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    STATUS_SERVER,
    Frame,
    accounting_authenticator_valid,
    message_authenticator_valid,
)

AUTH_CODES = frozenset({ACCESS_REQUEST, STATUS_SERVER})
ACCT_CODES = frozenset({ACCOUNTING_REQUEST, STATUS_SERVER})


def drop_reason(frame: Frame, client: Client, accounting_port: bool) -> str | None:
    """None when the packet may be processed, else the counter naming why it is dropped."""
    code = frame.code
    if code not in (ACCT_CODES if accounting_port else AUTH_CODES):
        return counters.UNEXPECTED_CODE
    if code == ACCOUNTING_REQUEST:
        if not accounting_authenticator_valid(frame, client.secret):
            return counters.BAD_AUTHENTICATOR
    elif frame.ma_offset < 0:
        # Status-Server always needs one (RFC 5997); an Access-Request unless the client opted out.
        if code == STATUS_SERVER or client.require_message_authenticator:
            return counters.MISSING_MESSAGE_AUTHENTICATOR
        if client.limit_proxy_state and frame.proxy_state:
            return counters.PROXY_STATE_UNSIGNED
        return None
    if frame.ma_offset >= 0 and not message_authenticator_valid(frame, client.secret):
        return counters.BAD_AUTHENTICATOR
    return None
