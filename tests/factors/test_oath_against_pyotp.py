"""The hmac.digest code generator on the raw seed gives exactly pyotp's codes."""

from __future__ import annotations

import os

import pytest

from radiusd.factors.hotp import ALGORITHMS, oath, oath_pyotp


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("digits", [6, 8])
def test_codes_agree_with_pyotp(algorithm: str, digits: int) -> None:
    for length in (14, 16, 20, 32, 64):
        seed = os.urandom(length)
        fast, reference = oath(seed, digits, algorithm), oath_pyotp(seed, digits, algorithm)
        for counter in [*range(0, 50), 2**31 - 1, 2**31, 2**40 + 7, 66_666_666, 2**63 - 1]:
            assert fast.at(counter) == reference.at(counter)


def test_unknown_algorithm_and_negative_counter_are_refused() -> None:
    with pytest.raises(ValueError):
        oath(b"x" * 20, 6, "md5")
    with pytest.raises(ValueError):
        oath(b"x" * 20).at(-1)
    with pytest.raises(ValueError):  # too short a seed, as pyotp
        oath(b"x" * 13)
