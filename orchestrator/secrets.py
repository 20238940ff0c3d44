"""Index credentials: read from the environment only, handed to installers in their environment
(native builds) or through a container's standard input (container builds, see
``executors/probe.py``), never on a command line or in a container's configuration, and masked in
every line layerctl writes (logs, events, reports)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import ConfigError

__all__ = ["MASK", "Credentials", "Masker", "index_url_with_credentials"]

MASK = "****"
USERNAME_VAR = "LAYERCTL_INDEX_USERNAME"
PASSWORD_VAR = "LAYERCTL_INDEX_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        environ = os.environ if environ is None else environ
        return cls(environ.get(USERNAME_VAR) or None, environ.get(PASSWORD_VAR) or None)

    def __bool__(self) -> bool:
        return bool(self.username or self.password)


def index_url_with_credentials(index_url: str | None, credentials: Credentials) -> str | None:
    """The URL an installer gets (in its environment, never on disk), credentials included."""
    if index_url is None:
        if credentials:
            raise ConfigError(
                f"environment: {PASSWORD_VAR}/{USERNAME_VAR} are set but no index-url is configured; "
                "set index-url in [tool.layerctl] or LAYERCTL_INDEX_URL"
            )
        return None
    if not credentials:
        return index_url
    parts = urlsplit(index_url)
    user = quote(credentials.username or "", safe="")
    password = quote(credentials.password or "", safe="")
    netloc = f"{user}:{password}@{parts.netloc}" if password else f"{user}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Masker:
    """Replaces every known secret (and its URL-quoted form) in a text with ``****``."""

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()) -> None:
        forms = {form for s in secrets if s for form in (s, quote(s, safe=""))}
        # longest first, so a secret that contains another is masked whole
        self._secrets = sorted((f for f in forms if len(f) >= 3), key=len, reverse=True)

    def found_in(self, value: object) -> bool:
        """Whether any string in ``value`` (nested dicts, lists and tuples: a request body, say)
        holds a secret."""
        if isinstance(value, str):
            return any(secret in value for secret in self._secrets)
        if isinstance(value, dict):
            return any(self.found_in(k) or self.found_in(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return any(self.found_in(item) for item in value)
        return False

    @property
    def active(self) -> bool:
        """Whether there is anything to mask (when not, lines pass untouched)."""
        return bool(self._secrets)

    @classmethod
    def for_credentials(cls, credentials: Credentials) -> Masker:
        return cls([credentials.password] if credentials.password else [])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text
