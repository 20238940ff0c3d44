"""A shared cache entry's ``record.json``: the key, the zip's sha256 and size, the target that
built it, the stamp its restore writes, and, when ``LAYERCTL_CACHE_SECRET`` is set, an
HMAC-SHA256 signature over the key, the zip's sha256 and the canonical record (every field
but the signature, as sorted compact JSON). With a secret, a record is trusted only if its
signature verifies: unsigned, signed with another secret, or changed after signing, it is a
miss. Without one, whoever can write the cache decides what is restored."""

from __future__ import annotations

import hashlib
import hmac
import json

from pydantic import BaseModel, ConfigDict

from ..stamp import Stamp

__all__ = ["Record", "sign", "signature_problem"]

_DOMAIN = b"layerctl-cache/1\n"  # so a signature of this is no signature of anything else


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    sha256: str
    size: int
    target: str
    stamp: Stamp
    signature: str | None = None

    def canonical(self) -> bytes:
        return json.dumps(
            self.model_dump(mode="json", exclude={"signature"}), sort_keys=True, separators=(",", ":")
        ).encode()


def sign(record: Record, secret: bytes) -> Record:
    return record.model_copy(update={"signature": _mac(record, secret)})


def signature_problem(record: Record, secret: bytes | None) -> str | None:
    """Why ``record`` is not trusted under ``secret`` (None: it is; no secret trusts any)."""
    if secret is None:
        return None
    if not record.signature:
        return "its record is not signed (LAYERCTL_CACHE_SECRET is set)"
    if not hmac.compare_digest(record.signature, _mac(record, secret)):
        return "its record's signature does not verify (another secret, or changed since signed)"
    return None


def _mac(record: Record, secret: bytes) -> str:
    message = _DOMAIN + f"{record.key}\n{record.sha256}\n".encode() + record.canonical()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
