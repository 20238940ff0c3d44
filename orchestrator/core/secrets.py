"""Index credentials: read from the environment only, handed to installers in their environment
(native builds) or through a container's standard input (container builds, see
``executors/probe.py``), never on a command line or in a container's configuration, and masked in
every line layerctl writes (logs, events, reports).

layerctl's own index (``index-url``) takes ``LAYERCTL_INDEX_USERNAME`` / ``_PASSWORD``; an index
of the layer's tool configuration (``indexes.py``) takes the tool's own variables, by its name:
``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD`` or ``POETRY_HTTP_BASIC_<NAME>_USERNAME`` /
``_PASSWORD`` (the name upper-cased, every other character than a letter or digit as ``_``).

A ``Masker`` masks every credential layerctl can see: the passwords of the environment, those
written into the index URLs of the layers' tool configuration, and the user information of any
URL (``redact.mask_urls``, which every ``LayerctlError`` also applies to its message)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .errors import ConfigError
from .redact import MASK, mask_urls

__all__ = [
    "MASK",
    "Credentials",
    "Index",
    "IndexUrls",
    "Masker",
    "index_url_with_credentials",
    "index_urls",
    "mask_urls",
    "url_secrets",
]

USERNAME_VAR = "LAYERCTL_INDEX_USERNAME"
PASSWORD_VAR = "LAYERCTL_INDEX_PASSWORD"
CACHE_SECRET_VAR = "LAYERCTL_CACHE_SECRET"


@dataclass(frozen=True, kw_only=True)
class Index:
    """One index of a layer's tool configuration (read by ``workspace/indexes.py``); its URL may
    carry credentials. ``url`` None: the installer's own default."""

    name: str
    url: str | None
    default: bool = False  # replaces the installer's default index
    explicit: bool = False  # only for the packages pinned to it (searched last here)


_TOOL_VARS = ("UV_INDEX_{}_", "POETRY_HTTP_BASIC_{}_")
_TOOL_PASSWORD = re.compile(r"(?:UV_INDEX|POETRY_HTTP_BASIC)_[A-Z0-9_]+_PASSWORD")


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # the tools' own credential variables, by variable name (a snapshot of the environment)
    named: Mapping[str, str] = field(default_factory=dict, repr=False)
    cache_secret: str | None = field(default=None, repr=False)  # signs the shared build cache's records

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        environ = os.environ if environ is None else environ
        named = {k: v for k, v in environ.items() if k.startswith(("UV_INDEX_", "POETRY_HTTP_BASIC_")) and v}
        secret = environ.get(CACHE_SECRET_VAR) or None
        return cls(environ.get(USERNAME_VAR) or None, environ.get(PASSWORD_VAR) or None, named, secret)

    def __bool__(self) -> bool:
        return bool(self.username or self.password)

    def for_index(self, name: str) -> Credentials:
        """The credentials of a tool's index called ``name``: uv's variables, else Poetry's."""
        key = re.sub(r"[^A-Z0-9]", "_", name.upper())
        for prefix in (form.format(key) for form in _TOOL_VARS):
            user, password = self.named.get(prefix + "USERNAME"), self.named.get(prefix + "PASSWORD")
            if user or password:
                return Credentials(user, password)
        return Credentials()

    def secrets(self) -> list[str]:
        """Every password: layerctl's and the tools' (all of them, whichever index uses them)."""
        tools = [v for k, v in self.named.items() if _TOOL_PASSWORD.fullmatch(k)]
        return [p for p in (self.password, *tools, self.cache_secret) if p]


@dataclass(frozen=True)
class IndexUrls:
    """Where an installer looks, credentials included (so: never on disk, argv or in logs)."""

    default: str | None = field(default=None, repr=False)  # None: the installer's own default
    extra: tuple[str, ...] = field(default=(), repr=False)  # in priority order


def index_urls(setting: str | None, indexes: Sequence[Index], credentials: Credentials) -> IndexUrls:
    """The indexes of one target: layerctl's ``index-url`` setting (when set) replaces the
    default index of the tool's configuration; the tool's other indexes follow, its explicit
    ones last."""
    default = index_url_with_credentials(setting, credentials)
    extra = []
    for index in sorted(indexes, key=lambda i: i.explicit):
        assert index.url is not None
        url = _with(index.url, credentials.for_index(index.name))
        if index.default:
            default = default or url
        else:
            extra.append(url)
    return IndexUrls(default, tuple(extra))


def index_url_with_credentials(index_url: str | None, credentials: Credentials) -> str | None:
    """The URL an installer gets (in its environment, never on disk), credentials included."""
    if index_url is None:
        if credentials:
            raise ConfigError(
                f"environment: {PASSWORD_VAR}/{USERNAME_VAR} are set but no index-url is configured; "
                "set index-url in [tool.layerctl] or LAYERCTL_INDEX_URL"
            )
        return None
    return _with(index_url, credentials)


def _with(index_url: str, credentials: Credentials) -> str:
    if not credentials:
        return index_url
    parts = urlsplit(index_url)
    user = quote(credentials.username or "", safe="")
    password = quote(credentials.password or "", safe="")
    netloc = f"{user}:{password}@{parts.netloc}" if password else f"{user}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_secrets(urls: Iterable[str | None]) -> list[str]:
    """The credentials written into URLs (a tool's index ``https://user:password@host``): the
    password, or the user when there is none (a token as the user)."""
    found = []
    for url in urls:
        try:
            parts = urlsplit(url or "")
            secret = parts.password if parts.password is not None else parts.username
        except ValueError:  # not a URL (a bad port, say): nothing to find in it
            continue
        if secret:
            found += [secret, unquote(secret)]
    return found


class Masker:
    """Replaces every known secret (and its URL-quoted form) in a text with ``****``, and the
    user information of every URL in it (known or not)."""

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

    @classmethod
    def for_credentials(cls, credentials: Credentials, indexes: Iterable[Index] = ()) -> Masker:
        """The secrets of the environment's ``credentials`` and those in the ``indexes`` of the
        layers' tool configuration (a run passes every layer's)."""
        return cls([*credentials.secrets(), *url_secrets(index.url for index in indexes)])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return mask_urls(text)
