"""Keep secrets out of every line a person or a log reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# user:password@ or token@ in URLs (https://oauth2:glpat-xxx@host/...)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
# Well-known token shapes, in case one ends up in a tool's stderr.
_TOKEN_SHAPES = re.compile(
    r"\b(glpat-[A-Za-z0-9_\-]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"
)
_registered: set[str] = set()


@dataclass(frozen=True)
class Secret:
    """A value that prints as ****; read `.value` only where it is used."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "****"

    def __repr__(self) -> str:
        return "Secret(****)"


def register_secret(value: str | None) -> None:
    """Redact this exact value from everything shown from now on (empty values are ignored)."""
    if value and len(value) >= 4:
        _registered.add(value)


def redact(text: str) -> str:
    """Return text with URL credentials, token shapes and registered secrets replaced by ****."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>****@", text)
    text = _TOKEN_SHAPES.sub("****", text)
    for value in sorted(_registered, key=len, reverse=True):
        text = text.replace(value, "****")
    return text
