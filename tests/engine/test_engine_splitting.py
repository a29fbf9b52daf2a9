"""Reading what was typed as password + code."""

from __future__ import annotations

from radiusd.engine.splitting import Split, splits


def test_splits_by_each_code_length_longest_first() -> None:
    assert splits("hunter2123456", [6, 8, 6], None) == [
        Split("hunte", "r2123456", False),
        Split("hunter2", "123456", False),
    ]


def test_separator_form_first_split_at_the_last_separator() -> None:
    assert splits("a,b,123456", [6], ",")[0] == Split("a,b", "123456", True)
    assert splits("pw,,123456", [], ",") == [Split("pw,", "123456", True)]


def test_nothing_left_for_a_password_is_no_split() -> None:
    assert splits("123456", [6], ",") == []
    assert splits(",123456", [], ",") == []
    assert splits("pw,", [], ",") == []
    assert splits("pw,123", [6], None) == []
