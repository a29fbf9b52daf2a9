"""Message templates with named placeholders only ({code}, {minutes}, {service} …).

Templates come from the configuration and are checked when it loads: a placeholder that is not
offered, or one that reaches into an object ("{code.__class__}", "{to[0]}"), is refused, so a
typo is a configuration error and not a failed login at 3 a.m.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping

_formatter = string.Formatter()


def placeholders(template: str) -> set[str]:
    """The names a template uses; ValueError for a malformed template or an attribute/index access."""
    try:
        parsed = list(_formatter.parse(template))
    except ValueError as exc:
        raise ValueError(f"bad template {template!r}: {exc}") from None
    names: set[str] = set()
    for _text, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"bad placeholder {{{field}}} in {template!r}: use a plain {{name}}")
        names.add(field)
    return names


def check(template: str, allowed: Iterable[str]) -> str:
    unknown = placeholders(template) - set(allowed)
    if unknown:
        names = ", ".join("{" + n + "}" for n in sorted(allowed))
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} in {template!r} (offered: {names})")
    return template


def render(template: str, values: Mapping[str, object]) -> str:
    return template.format_map({name: values[name] for name in placeholders(template)})
