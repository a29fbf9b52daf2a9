"""HMAC from prepared inner and outer states is hmac's, for any key length and message."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

from radiusd.crypto.prepared_hmac import PreparedHmac, md5_hmac

HASHES = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


@settings(max_examples=400, deadline=None)
@given(
    key=st.binary(min_size=0, max_size=300),  # empty, short, and past both block sizes (64, 128)
    messages=st.lists(st.binary(max_size=5000), min_size=1, max_size=4),
    name=st.sampled_from(sorted(HASHES)),
)
def test_prepared_hmac_is_hmac(key: bytes, messages: list[bytes], name: str) -> None:
    prepared = PreparedHmac(key, HASHES[name])
    for message in messages:  # the prepared states are reused, never changed by a message
        assert prepared.digest(message) == hmac.digest(key, message, name)


def test_md5_hmac_of_a_radius_secret_is_prepared_once() -> None:
    secret = b"testing123"
    assert md5_hmac(secret) is md5_hmac(secret)
    assert md5_hmac(secret).digest(b"packet") == hmac.digest(secret, b"packet", "md5")
    assert md5_hmac(b"other").digest(b"packet") != md5_hmac(secret).digest(b"packet")
