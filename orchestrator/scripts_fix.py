"""Console scripts installed into a layer name the interpreter that installed them in their
shebang: a path on the build machine, which does not exist on Lambda and makes the zip differ
from one machine (or checkout path) to the next. They are pointed at the runtime's interpreter
instead, and the RECORD files that hash them are updated to match."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

__all__ = ["LAMBDA_PYTHON", "fix_scripts"]

LAMBDA_PYTHON = "/var/lang/bin/python{python}"  # where every Lambda Python runtime has it
_MAX_SHEBANG = 4096


def fix_scripts(root: Path, python: str) -> list[str]:
    """Rewrite python shebangs under ``root/bin``; return the rewritten paths (relative)."""
    bin_dir = root / "bin"
    if not bin_dir.is_dir():
        return []
    shebang = f"#!{LAMBDA_PYTHON.format(python=python)}\n".encode()
    rewritten: dict[str, bytes] = {}
    for path in sorted(bin_dir.iterdir()):
        if not path.is_file() or path.is_symlink():
            continue
        with path.open("rb") as fh:
            first = fh.readline(_MAX_SHEBANG)
            if not (first.startswith(b"#!") and b"python" in first) or first == shebang:
                continue
            content = shebang + fh.read()
        mode = path.stat().st_mode & 0o7777
        path.unlink()  # never write in place: installers hard-link files from their caches
        path.write_bytes(content)
        path.chmod(mode)
        rewritten[os.path.normpath(path)] = content
    if rewritten:
        _update_records(root, rewritten)
    return sorted(os.path.relpath(p, root) for p in rewritten)


def _update_records(root: Path, rewritten: dict[str, bytes]) -> None:
    for record in sorted(root.glob("*.dist-info/RECORD")):
        lines = record.read_text("utf-8").splitlines()
        changed = False
        for i, line in enumerate(lines):
            rel, _, _ = line.partition(",")
            content = rewritten.get(os.path.normpath(root / rel))
            if content is None:
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
            lines[i] = f"{rel},sha256={digest},{len(content)}"
            changed = True
        if changed:
            text = "\n".join(lines) + "\n"
            record.unlink()
            record.write_text(text, "utf-8")
