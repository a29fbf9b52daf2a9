"""parse_address (inet_pton first, remembered) reads every source exactly as ipaddress does,
address_text writes every address exactly as str() does, and the lockout's source keys agree."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from radiusd.engine.lockout import _source_form, store_key
from radiusd.engine.rules import IPAddress, address_text, parse_address


def _reference(value: str) -> IPAddress | None:
    try:
        addr = ipaddress.ip_address(value.split("%", 1)[0].strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


EDGES = [
    "192.0.2.1", " 192.0.2.1 ", "010.0.0.1", "1.2.3.04", "0x1.2.3.4", "1.2.3", "1", "1.2.3.4.5",
    "256.1.1.1", "1.2.3.-4", "::1", "::ffff:192.0.2.1", "fe80::1%eth0", "2001:db8::", " ",
    "1.2.3.4%x", "١.٢.٣.٤", "1.2.3.4\x00",
]  # fmt: skip


def test_edge_cases_agree_with_ipaddress() -> None:
    for value in EDGES:
        assert parse_address(value) == _reference(value), value
    assert parse_address(None) is None


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789.:abcdefx% -", max_size=45),
        st.ip_addresses().map(str),
        st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
    )
)
def test_any_text_agrees_with_ipaddress(value: str) -> None:
    if value:
        assert parse_address(value) == _reference(value)


@settings(max_examples=2000, deadline=None)
@given(st.ip_addresses())
def test_address_text_is_str(addr: IPAddress) -> None:
    assert address_text(addr) == str(addr)


NETWORKS = st.one_of(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
        lambda t: str(ipaddress.ip_network((t[0], t[1]), strict=False))
    ),
    st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
        lambda t: str(ipaddress.ip_network((t[0], t[1]), strict=False))
    ),
    st.sampled_from(["0.0.0.0/0", "::/0", "::ffff:0:0/96", "10.0.0.0/8", "192.0.2.7"]),
)


@settings(max_examples=2000, deadline=None)
@given(
    source=st.one_of(
        st.ip_addresses().map(str),
        st.text(alphabet="0123456789.:abcdef% ", max_size=45),
        st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
    ),
    shared=st.lists(NETWORKS, max_size=4).map(tuple),
)
def test_lockout_source_form_agrees_with_ipaddress(source: str, shared: tuple[str, ...]) -> None:
    """The lockout's key for a source and whether a shared network holds it: the dotted-quad path
    (octets and integers) gives what parse_address and ipaddress's `in` give."""
    addr = _reference(source) if source else None
    if addr is None:
        expected = (store_key(source), False)
    else:
        expected = (str(addr), any(addr in ipaddress.ip_network(net) for net in shared))
    assert _source_form(source, shared) == expected
