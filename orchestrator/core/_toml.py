"""TOML reading: tomllib where the interpreter has it, tomli before Python 3.11. Every failure is
one ``TOMLDecodeError`` (a ValueError), also a file nested more than ``MAX_DEPTH`` levels deep,
which would otherwise exhaust the parser's recursion."""

from __future__ import annotations

import sys
from typing import Any

from .fileio import MAX_DEPTH, too_deep

if sys.version_info >= (3, 11):
    import tomllib as _parser
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as _parser

__all__ = ["TOMLDecodeError", "loads"]


_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


class TOMLDecodeError(ValueError):
    """The text is not TOML layerctl reads; the message says where or why."""


def loads(text: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = _parser.loads(text)
    except _parser.TOMLDecodeError as exc:
        raise TOMLDecodeError(str(exc)) from None
    except RecursionError:
        raise TOMLDecodeError(_TOO_DEEP) from None
    if too_deep(data):
        raise TOMLDecodeError(_TOO_DEEP)
    return data
