"""Backup codes: recognised by their keyed hash, typed in any case and with or without the dash."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from factor_helpers import keyring, token

from radiusd.config.engine import EngineConfig
from radiusd.factors import backup
from radiusd.factors.backup import BackupFactor


def test_codes_are_distinct_and_match_only_their_own_token(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), BackupFactor(EngineConfig())
    key = backup.new_key()
    codes = backup.generate_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    tok = dataclasses.replace(
        token(ring, "backup", key), items=tuple(backup.hash_code(key, c) for c in codes)
    )
    for code in (codes[3], backup.display(codes[3]), backup.display(codes[3]).upper()):
        match = factor.match(tok, code, 0, ring)
        assert match is not None and match.item_hash == backup.hash_code(key, codes[3])
    other_key = backup.new_key()
    other = dataclasses.replace(token(ring, "backup", other_key), items=tok.items)
    assert factor.match(other, codes[3], 0, ring) is None
    assert factor.match(tok, backup.generate_codes(1)[0], 0, ring) is None
    assert factor.match(tok, "0000000000", 0, ring) is None
