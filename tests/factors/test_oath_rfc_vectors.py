"""RFC 4226 Appendix D and RFC 6238 Appendix B through the factor modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from factor_helpers import keyring, token
from oath_vectors import RFC4226_CODES, RFC4226_SEED, RFC6238_SEEDS, RFC6238_VECTORS

from radiusd.config.engine import EngineConfig
from radiusd.factors.hotp import HotpFactor
from radiusd.factors.totp import TotpFactor


def test_rfc4226_codes_in_sequence(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), HotpFactor(EngineConfig())
    counter = -1
    for expected_counter, code in enumerate(RFC4226_CODES):
        match = factor.match(token(ring, "hotp", RFC4226_SEED, counter=counter), code, 0, ring)
        assert match is not None and not match.replay
        assert match.counter == expected_counter
        counter = match.counter


def test_rfc4226_code_behind_counter_is_a_replay_and_beyond_window_is_wrong(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), HotpFactor(EngineConfig(hotp_window=3))
    tok = token(ring, "hotp", RFC4226_SEED, counter=4)
    replay = factor.match(tok, RFC4226_CODES[4], 0, ring)
    assert replay is not None and replay.replay
    assert factor.match(tok, RFC4226_CODES[7], 0, ring) is not None  # 3 ahead: inside
    assert factor.match(tok, RFC4226_CODES[8], 0, ring) is None  # 4 ahead: outside
    assert factor.match(tok, RFC4226_CODES[1], 0, ring) is None  # older than the last: unknown


def test_rfc4226_resync_needs_two_consecutive_codes(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), HotpFactor(EngineConfig(hotp_window=1, hotp_resync_window=10))
    tok = token(ring, "hotp", RFC4226_SEED, counter=-1)
    match = factor.resync(tok, RFC4226_CODES[6], RFC4226_CODES[7], ring)
    assert match is not None and match.counter == 7
    assert factor.resync(tok, RFC4226_CODES[6], RFC4226_CODES[8], ring) is None


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize(("at", "codes"), RFC6238_VECTORS)
def test_rfc6238_vectors(tmp_path: Path, algorithm: str, at: int, codes: dict[str, str]) -> None:
    ring, factor = keyring(tmp_path), TotpFactor(EngineConfig(totp_window=0))
    tok = token(ring, "totp", RFC6238_SEEDS[algorithm], digits=8, algorithm=algorithm, period=30)
    match = factor.match(tok, codes[algorithm], at, ring)
    assert match is not None and not match.replay
    assert match.counter == at // 30 and match.drift == 0
    other = next(a for a in RFC6238_SEEDS if a != algorithm)
    if codes[other] != codes[algorithm]:
        assert factor.match(tok, codes[other], at, ring) is None


def test_totp_window_drift_and_replay(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), TotpFactor(EngineConfig(totp_window=1))
    seed = RFC6238_SEEDS["sha1"]
    # The 1111111109 code (step 37037036) seen one step later: accepted, drift -1 learned.
    late = factor.match(token(ring, "totp", seed, digits=8), "07081804", 1111111109 + 30, ring)
    assert late is not None and late.drift == -1 and late.counter == 37037036
    # Two steps off is outside the window ...
    tok = token(ring, "totp", seed, digits=8)
    assert factor.match(tok, "07081804", 1111111109 + 60, ring) is None
    # ... unless the learned drift moves the window there.
    drifted = token(ring, "totp", seed, digits=8, drift=-1)
    assert factor.match(drifted, "07081804", 1111111109 + 60, ring) is not None
    used = token(ring, "totp", seed, counter=37037036, digits=8)
    replay = factor.match(used, "07081804", 1111111109, ring)
    assert replay is not None and replay.replay


def test_totp_60_second_period_and_6_digits(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), TotpFactor(EngineConfig(totp_window=0))
    seed = RFC6238_SEEDS["sha1"]
    # 6 digits is the 8-digit code's last six; a 60 s step at t=59 is step 0, whose code is RFC 4226's.
    tok = token(ring, "totp", seed, digits=6, period=60)
    match = factor.match(tok, RFC4226_CODES[0], 59, ring)
    assert match is not None and match.counter == 0
    assert factor.match(tok, "not-a-code", 59, ring) is None
    assert factor.match(tok, "0" * 6, 59, ring) is None
