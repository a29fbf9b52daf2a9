"""The hot paths' hash constructors (CPython's own) give hashlib's digests, states copied or not."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from radiusd.crypto import hashes
from radiusd.crypto.prepared_hmac import PreparedHmac

NAMES = sorted(hashes.BY_NAME)


def test_this_interpreter_has_its_own_implementations() -> None:
    # CPython as Debian and python.org build it: the fallback to OpenSSL's is for other builds.
    for name in NAMES:
        assert hashes.BY_NAME[name] is not getattr(hashlib, name), name
        assert hashes.BY_NAME[name]().name == name


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.binary(max_size=4200), min_size=1, max_size=4),  # RADIUS packets reach 4096
    name=st.sampled_from(NAMES),
)
def test_digests_are_hashlibs(parts: list[bytes], name: str) -> None:
    ours, reference = hashes.BY_NAME[name](parts[0]), hashlib.new(name, parts[0])
    for part in parts[1:]:
        copy = ours.copy()  # a copy goes on by itself; the original is not changed by it
        copy.update(part)
        ours.update(part)
        reference.update(part)
        assert copy.digest() == ours.digest() == reference.digest()
    assert ours.digest() == reference.digest()
    assert (ours.digest_size, ours.block_size) == (reference.digest_size, reference.block_size)


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=300), message=st.binary(max_size=300), name=st.sampled_from(NAMES))
def test_prepared_hmac_on_them_is_hmac(key: bytes, message: bytes, name: str) -> None:
    assert PreparedHmac(key, hashes.BY_NAME[name]).digest(message) == hmac.digest(key, message, name)
