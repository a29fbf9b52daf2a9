"""A QR code drawn with Unicode half blocks, so a phone can scan it off an SSH terminal."""

from __future__ import annotations

import io
import re

import segno

OTPAUTH_URI = re.compile(r"otpauth://\S+")


def find_otpauth_uri(text: str) -> str | None:
    match = OTPAUTH_URI.search(text)
    return match.group(0) if match else None


def terminal_qr(data: str) -> str:
    """Two rows of modules per text line (half blocks), with the quiet zone scanners need."""
    out = io.StringIO()
    segno.make(data, error="m", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue().rstrip("\n")
