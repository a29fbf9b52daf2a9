"""Find and load the RADIUS dictionary: radius.dictionary from the configuration, else the set shipped
with the package (radiusd/radius/dictionaries, a link to the repository's dictionaries/ that the wheel
carries as package data)."""

from __future__ import annotations

import logging
import warnings
from functools import lru_cache
from pathlib import Path

from pyrad.dictionary import Dictionary, ParseError

SHIPPED = Path(__file__).with_name("dictionaries") / "dictionary"


class DictionaryError(Exception):
    pass


def dictionary_path(configured: Path | None) -> Path:
    return configured or SHIPPED


@lru_cache(maxsize=4)
def load_dictionary(path: Path) -> Dictionary:
    """Parse once per process; pyrad's warnings about skipped attributes become log lines."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dictionary = Dictionary(str(path))
    except (OSError, ParseError, ValueError) as exc:
        raise DictionaryError(f"cannot load RADIUS dictionary {path}: {exc}") from None
    for warning in caught:
        logging.getLogger(__name__).warning("dictionary %s: %s", path, warning.message)
    return dictionary
