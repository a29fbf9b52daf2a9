"""The duplicate cache on its own: retransmissions, replacement by a new request, expiry, and
entries that the cyclic garbage collector does not have to scan."""

from __future__ import annotations

import gc

from radiusd.radius.duplicates import DuplicateCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


KEY = ("192.0.2.1", 40000, 0, 1, 7)
A, B = b"a" * 16, b"b" * 16


def test_retransmission_in_progress_then_answered() -> None:
    cache = DuplicateCache(10, Clock())
    assert cache.claim(KEY, A) == (None, True)
    assert cache.claim(KEY, A) == (None, False)  # still being processed
    cache.answer(KEY, A, b"reply")
    assert cache.claim(KEY, A) == (b"reply", False)


def test_a_new_request_replaces_and_the_old_one_cannot_touch_it() -> None:
    cache = DuplicateCache(10, Clock())
    cache.claim(KEY, A)
    assert cache.claim(KEY, B) == (None, True)  # same identifier, new authenticator
    cache.answer(KEY, A, b"late reply to A")  # the replaced request finishes: nothing cached
    cache.forget(KEY, A)  # nor removed
    assert cache.claim(KEY, B) == (None, False)
    cache.answer(KEY, B, b"reply to B")
    assert cache.claim(KEY, B) == (b"reply to B", False)


def test_forget_lets_a_retransmission_be_processed_afresh() -> None:
    cache = DuplicateCache(10, Clock())
    cache.claim(KEY, A)
    cache.forget(KEY, A)
    assert cache.claim(KEY, A) == (None, True)


def test_answers_expire_but_an_expired_record_spares_a_newer_request() -> None:
    clock = Clock()
    cache = DuplicateCache(10, clock)
    cache.claim(KEY, A)
    cache.answer(KEY, A, b"reply to A")  # expires at 10
    clock.now = 5
    cache.claim(KEY, B)
    cache.answer(KEY, B, b"reply to B")  # expires at 15
    clock.now = 12
    assert cache.claim(KEY, B) == (b"reply to B", False)  # A's expiry left B alone
    clock.now = 16
    assert cache.claim(("192.0.2.2", 1, 0, 1, 1), A) == (None, True)  # any claim expires
    assert len(cache) == 1 and cache.claim(KEY, B) == (None, True)


def test_entries_are_not_tracked_by_the_garbage_collector() -> None:
    cache = DuplicateCache(10, Clock())
    keys = [("192.0.2.1", port, 0, 1, port % 256) for port in range(2000)]
    for key in keys:
        cache.claim(key, A)
        cache.answer(key, A, b"reply")
    gc.collect()
    assert not any(gc.is_tracked(cache._entries[key]) for key in keys)
    assert not any(gc.is_tracked(record) for record in cache._expiry)


def test_the_entries_dict_is_never_young_again_after_a_freeze() -> None:
    # The server freezes once serving; a dict the collector had untracked would be tracked again
    # by the next new entry, as a young object, and the next young collection would walk it all.
    cache = DuplicateCache(10, Clock())
    gc.freeze()
    try:
        for i in range(2_000):
            key = ("192.0.2.1", 40000 + i % 64, 0, 1, i)
            cache.claim(key, A)
            cache.answer(key, A, b"reply")
        gc.collect()
        cache.claim(("192.0.2.2", 1, 0, 1, 1), B)
        assert gc.is_tracked(cache._entries)
        assert not any(o is cache._entries for g in range(3) for o in gc.get_objects(g))
    finally:
        gc.unfreeze()
