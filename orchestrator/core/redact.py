"""Credentials in URLs, masked in any text: ``scheme://user:password@host`` (or a token as the
user) becomes ``scheme://****@host``. Pure and stateless, so the error hierarchy masks every
message it is given (``errors.py``) and the run's ``secrets.Masker`` every line it passes on."""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_urls"]

MASK = "****"
# A URL's authority runs to the first '/', '?', '#' or blank; what it holds up to its last '@' is
# the user information (a password with a bare '@' in it is masked whole).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")


def mask_urls(text: str) -> str:
    """``text`` with the user information of every URL in it replaced by ``****``."""
    if "@" not in text:  # the common case costs one scan
        return text
    return _USERINFO.sub(rf"\g<scheme>{MASK}@", text)
