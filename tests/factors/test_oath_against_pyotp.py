"""The code generator on the raw seed gives exactly pyotp's codes, and its HMAC is hmac's
(radiusd.crypto.prepared_hmac, tested on its own in tests/crypto)."""

from __future__ import annotations

import hmac
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radiusd.factors.hotp import ALGORITHMS, find_counter, oath, oath_pyotp


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("digits", [6, 8])
def test_codes_agree_with_pyotp(algorithm: str, digits: int) -> None:
    for length in (14, 16, 20, 32, 64):
        seed = os.urandom(length)
        fast, reference = oath(seed, digits, algorithm), oath_pyotp(seed, digits, algorithm)
        for counter in [*range(0, 50), 2**31 - 1, 2**31, 2**40 + 7, 66_666_666, 2**63 - 1]:
            assert fast.at(counter) == reference.at(counter)
            assert fast.value(counter) == int(reference.at(counter))


@settings(max_examples=300, deadline=None)
@given(
    seed=st.binary(min_size=14, max_size=300),  # past both block sizes (64 and 128 bytes)
    counter=st.integers(0, 2**64 - 1),
    algorithm=st.sampled_from(sorted(ALGORITHMS)),
    digits=st.sampled_from([6, 8]),
)
def test_codes_from_prepared_hmac_are_hmacs(seed: bytes, counter: int, algorithm: str, digits: int) -> None:
    mac = hmac.digest(seed, struct.pack(">Q", counter), algorithm)
    offset = mac[-1] & 0x0F
    expected = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    assert oath(seed, digits, algorithm).value(counter) == expected


@settings(max_examples=200, deadline=None)
@given(
    seed=st.binary(min_size=14, max_size=80),
    first=st.integers(0, 2**40),
    span=st.integers(0, 30),
    ahead=st.integers(-5, 35),
    algorithm=st.sampled_from(sorted(ALGORITHMS)),
    digits=st.sampled_from([6, 8]),
)
def test_window_search_finds_pyotps_first_counter(
    seed: bytes, first: int, span: int, ahead: int, algorithm: str, digits: int
) -> None:
    """`find_counter` gives the first counter of the window whose pyotp code was typed, or None."""
    reference = oath_pyotp(seed, digits, algorithm)
    code = reference.at(max(first + ahead, 0))  # inside the window, before it or past it
    window = range(first, first + span + 1)
    expected = next((c for c in window if reference.at(c) == code), None)
    assert find_counter(oath(seed, digits, algorithm), code, first, first + span) == expected


def test_unknown_algorithm_and_negative_counter_are_refused() -> None:
    with pytest.raises(ValueError):
        oath(b"x" * 20, 6, "md5")
    with pytest.raises(ValueError):
        oath(b"x" * 20).at(-1)
    with pytest.raises(ValueError):  # too short a seed, as pyotp
        oath(b"x" * 13)
