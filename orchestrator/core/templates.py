"""The one rule for the templates a user writes (the build and verify images, the publish names):
plain ``{name}`` placeholders only. No attribute or index access, conversion or format spec: a
template is text with values put in, never code that reaches into them (``{python.__class__}``)
or pads them out of shape (``{arch:>300}``)."""

from __future__ import annotations

import string
from collections.abc import Iterable

__all__ = ["check_template"]


def check_template(value: str, allowed: Iterable[str]) -> str:
    """``value`` if it uses only ``{name}`` placeholders of ``allowed``; else a ValueError whose
    message lists them (pydantic turns it into the setting's one-line error)."""
    allowed = tuple(allowed)
    names = ", ".join("{" + name + "}" for name in allowed)
    try:
        fields = [
            (field, spec, conv)
            for _text, field, spec, conv in string.Formatter().parse(value)
            if field is not None
        ]
    except ValueError:
        raise ValueError(
            f"may use only the placeholders {names} (a lone brace is written {{{{ or }}}})"
        ) from None
    for field, spec, conv in fields:
        if field not in allowed or spec or conv:
            found = "{" + field + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"may use only the placeholders {names} (found {found})")
    return value
