"""Hash constructors for the hot paths' short messages: CPython's own implementations.

The login path hashes a block or two at a time (a counter under a token's seed, a RADIUS packet)
and copies prepared states (radiusd.crypto.prepared_hmac). For messages that short, OpenSSL's hash
objects cost more to create and copy than the hashing itself: one HMAC-SHA1 of a counter took
1.95 µs through OpenSSL and 1.34 µs built in, one HMAC-MD5 2.04 against 0.90 (bench machine).
The built-in MD5 also keeps working where OpenSSL runs in FIPS mode and refuses MD5, which RADIUS
cannot do without. An interpreter built without them gets hashlib's (tests check both agree).
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any


def _builtin(name: str, modules: tuple[str, ...]) -> Any:
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return getattr(hashlib, name)


# Python 3.12 merged _sha256 and _sha512 into _sha2.
md5 = _builtin("md5", ("_md5",))
sha1 = _builtin("sha1", ("_sha1",))
sha256 = _builtin("sha256", ("_sha2", "_sha256"))
sha512 = _builtin("sha512", ("_sha2", "_sha512"))

BY_NAME: dict[str, Any] = {"md5": md5, "sha1": sha1, "sha256": sha256, "sha512": sha512}
