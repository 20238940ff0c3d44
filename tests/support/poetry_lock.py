"""Make a `poetry.lock` that holds no index URLs, with real Poetry.

Poetry's per-version metadata lookups fail on some networks, so the lock is made against a
temporary PEP 503 simple-index source (the URL comes from pip itself), then that source is
removed from both files and the lock's content-hash is recomputed by Poetry itself.
Usage: python tests/support/poetry_lock.py PROJECT_DIR
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_SOURCE_NAME = "layerctl-tmp-index"


def simple_index_url() -> str:
    from pip._internal.models.index import PyPI

    return str(PyPI.simple_url)


def lock(project: Path, poetry: str | None = None) -> None:
    poetry = poetry or str(Path(sys.executable).with_name("poetry"))
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(
        original
        + f'\n[[tool.poetry.source]]\nname = "{_SOURCE_NAME}"\n'
        + f'url = "{simple_index_url()}"\npriority = "primary"\n'
    )
    try:
        subprocess.run([poetry, "lock", "--no-interaction"], cwd=project, check=True)
    finally:
        pyproject.write_text(original)
    lock_file = project / "poetry.lock"
    # only the temporary index's source blocks go: a path dependency's (type = "directory") stays
    text = re.sub(
        r"\n\[package\.source\]\n(?:[^\n\[][^\n]*\n)*",
        lambda m: "\n" if _SOURCE_NAME in m.group(0) else m.group(0),
        lock_file.read_text(),
    )
    text = re.sub(r"\n{3,}", "\n\n", text)
    lock_file.write_text(text)
    _reset_content_hash(project, lock_file)


def _reset_content_hash(project: Path, lock_file: Path) -> None:
    from poetry.factory import Factory

    content_hash = Factory().create_poetry(project).locker._get_content_hash()
    text = re.sub(r'content-hash = "[0-9a-f]+"', f'content-hash = "{content_hash}"', lock_file.read_text())
    lock_file.write_text(text)


if __name__ == "__main__":
    lock(Path(sys.argv[1]).resolve())
