"""Enrolment test helpers, on top of the engine tests' store fixture (tests/engine_support.py).

from enrolment_fixtures import PASSWORD, Store, store
"""

from __future__ import annotations

import re
import urllib.parse

import pyotp
from audit.secret_scan import register_secrets
from engine_support import PASSWORD, Store, request, store

__all__ = ["PASSWORD", "Store", "request", "store", "totp_of"]

OTPAUTH = re.compile(r"otpauth://\S+")


def totp_of(text: str) -> tuple[str, pyotp.TOTP]:
    """The otpauth URI found in `text` (a Reply-Message, a keyboard-interactive prompt) and the
    authenticator app it configures. The seed joins the run-wide secret scan: it must never be
    in a log line or an audit row."""
    found = OTPAUTH.search(text)
    assert found, f"no otpauth URI in {text!r}"
    uri = found.group(0)
    parsed = urllib.parse.urlparse(uri)
    assert parsed.netloc == "totp"
    query = urllib.parse.parse_qs(parsed.query)
    register_secrets(query["secret"][0])
    return uri, pyotp.TOTP(
        query["secret"][0],
        digits=int(query.get("digits", ["6"])[0]),
        interval=int(query.get("period", ["30"])[0]),
    )
