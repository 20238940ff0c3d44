"""``cache-url`` checked when it is parsed (pure): ``s3://bucket/prefix`` with a bucket name S3
accepts, or a directory; anything else (empty, another URL scheme, ``S3://``, ``s3:/``) is one
line before a run writes anything. Used by the setting's validator (``run_settings.py``) and by
the command line, which makes a directory flag absolute (``cli/options.py``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["cache_url_problem", "names_a_directory"]

# A URL's scheme (RFC 3986): a value that starts with one is a URL, never a directory's name
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# S3's bucket naming rules: 3 to 63 lower-case letters, digits, dots and hyphens, a letter or
# digit at each end, no two dots together, not an IP address
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^[0-9]+(\.[0-9]+){3}$")
_S3_FORM = "an S3 cache is s3://bucket/prefix (credentials come from the AWS SDK's chain)"


def names_a_directory(value: str) -> bool:
    """A ``cache-url`` that names a directory (no URL scheme; write ``./a:b`` for a name with a colon)."""
    return bool(value) and not _SCHEME.match(value)


def cache_url_problem(value: str) -> str | None:
    """Why ``value`` is neither ``s3://bucket/prefix`` nor a directory (None: it is one)."""
    if not value.strip():
        return "is empty: name a directory (e.g. .layerctl-cache) or s3://bucket/prefix, or leave it unset"
    if "\x00" in value:
        return "holds a NUL character: name a directory, e.g. .layerctl-cache"
    if names_a_directory(value):
        return None
    if not value.startswith("s3://"):
        scheme = value.split(":", 1)[0]
        if value.lower().startswith("s3://"):
            return f"write s3:// in lower case: s3://{value[5:]}"
        colon = "" if "//" in value else f" (a directory whose name holds a colon: ./{value})"
        return f"{value!r} is a URL ({scheme}:): must be s3://bucket/prefix or a directory{colon}"
    parts = urlsplit(value)
    if not parts.netloc or parts.query or parts.fragment or "@" in parts.netloc:
        return _S3_FORM
    bucket = parts.netloc
    if not _BUCKET.match(bucket) or ".." in bucket or _IP.match(bucket):
        return (
            f"{bucket!r} is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and "
            "hyphens, a letter or digit at each end): write s3://bucket/prefix"
        )
    return None
