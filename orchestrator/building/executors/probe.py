"""What runs first in every container layerctl starts: the files it gets on stdin (secrets: never
in the container's configuration) are read into a tmpfs, then the container reports its machine
(a foreign arch without QEMU/binfmt never gets this far: /bin/sh cannot start), its Python, and
pip's version (from the dist-info, not by starting Python: under emulation that alone takes a
second). ``SelfProbe`` reads those lines from the container's output."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ...core.errors import EnvironmentProblem
from ...core.process import BatchSink, LineSink, lines_to
from ...core.runtimes import Arch

__all__ = [
    "BINFMT_FIX",
    "BUILD_SCRIPT",
    "DIRECT_HOOK",
    "PROBE",
    "SDIST_SCRIPT",
    "SECRETS_DIR",
    "WHEEL_SCRIPT",
    "SelfProbe",
    "receive_script",
    "stdin_payload",
]

BINFMT_FIX = (
    "register QEMU for it: apt-get install qemu-user-static binfmt-support && "
    "update-binfmts --enable qemu-aarch64 (or docker run --privileged --rm tonistiigi/binfmt --install arm64)"
)
# Where a container finds the files it got on stdin: a tmpfs, so they live in memory only.
SECRETS_DIR = "/layerctl/secrets"
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PROBE_MARK = "layerctl-probe:"
_NO_PYTHON = 97
_PROBE_BODY = """echo "layerctl-probe: machine $(uname -m)"
py=$(command -v python{python}) || {{ echo "layerctl: python{python} not found in the image" >&2; exit 97; }}
prefix=${{py%/bin/*}}
pip=$(ls -d "$prefix"/lib/python{python}/site-packages/pip-*.dist-info \
      "$prefix"/lib/python3/dist-packages/pip-*.dist-info 2>/dev/null | head -n 1) || true
echo "layerctl-probe: pip ${{pip:-unknown}}"
"""
PROBE = "set -eu\n" + _PROBE_BODY


def receive_script(directory: str) -> str:
    """The receiving end of ``stdin_payload``, in POSIX sh (no tool the image might lack): frames
    ``file NAME LINES`` and LINES lines each, then ``end``, become files in ``directory``, readable
    by the container's user only. With nothing on stdin it finds EOF at once."""
    return f"""secrets='{directory}'
umask 077
while IFS=' ' read -r kind name lines; do
  [ "$kind" = file ] || break
  n=0
  while [ "$n" -lt "$lines" ] && IFS= read -r line; do printf '%s\\n' "$line"; n=$((n + 1)); done >"$secrets/$name"
done
umask 022
"""


def stdin_payload(files: Mapping[str, bytes]) -> bytes:
    """Text files framed for ``receive_script`` (a missing last newline is added)."""
    out = bytearray()
    for name, data in files.items():
        if not _FILE_NAME.fullmatch(name) or b"\0" in data:
            raise ValueError(f"cannot hand {name!r} to a container: a plain name and text only")
        if data and not data.endswith(b"\n"):
            data += b"\n"
        lines = data.count(b"\n")
        out += f"file {name} {lines}\n".encode() + data
    return bytes(out + b"end\n")


# What compiles in a container compiles the same bytes twice: no debug information (it records
# pip's random build directory, so each compile of one sdist differed) and a fixed timestamp for
# tools that embed one; the image's own flags are kept.
_REPRODUCIBLE = """export CFLAGS="${{CFLAGS:+$CFLAGS }}-g0" CXXFLAGS="${{CXXFLAGS:+$CXXFLAGS }}-g0"
export SOURCE_DATE_EPOCH="${{SOURCE_DATE_EPOCH:-315532800}}"
"""

# A build: the files from stdin (read first, so the writer never waits), the probe, then pip.
BUILD_SCRIPT = (
    "set -eu\n"
    + receive_script(SECRETS_DIR)
    + _PROBE_BODY
    + _REPRODUCIBLE
    + """"$py" -m pip install --no-compile --prefer-binary --target /layerctl/out/python \\
    --requirement /layerctl/requirements.txt
if [ -f /layerctl/out/own.txt ]; then
  exec "$py" -m pip install --no-compile --no-deps --target /layerctl/out/python --requirement /layerctl/out/own.txt
fi
"""
)

# A compiled in-repo project: its sources (a copy) built into a wheel with its own build backend.
WHEEL_SCRIPT = (
    "set -eu\n"
    + receive_script(SECRETS_DIR)
    + _PROBE_BODY
    + _REPRODUCIBLE
    + """exec "$py" -m pip wheel --no-deps --wheel-dir /layerctl/wheel /layerctl/src
"""
)

# A local sdist with its build environment made on the host (``building/buildenv.py``): its
# backend's build_wheel in one Python started with -S (only that environment and the standard
# library importable, as in pip's isolation). Exit 75: the backend does not start, or asks for
# (or imports) more than it has: pip builds it with its isolation. A failed compile is final.
DIRECT_HOOK = """import importlib, json, os, re, site, sys
from importlib import metadata
site.addsitedir("/layerctl/buildenv")
sys.path[:0] = [os.path.abspath(p) for p in json.loads(os.environ["LAYERCTL_BACKEND_PATH"])]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
try:
    module, _, name = os.environ["LAYERCTL_BACKEND"].partition(":")
    backend = importlib.import_module(module)
    for part in filter(None, name.split(".")):
        backend = getattr(backend, part)
    asks = getattr(backend, "get_requires_for_build_wheel", lambda config_settings=None: [])(None)
except Exception as exc:
    print("layerctl: the backend does not start with its requires alone: %s: %s" % (type(exc).__name__, exc))
    sys.exit(75)
have = {norm(d.metadata["Name"]) for d in metadata.distributions(path=["/layerctl/buildenv"])}
missing = [r for r in asks if norm(re.match(r"[A-Za-z0-9._-]*", r).group(0)) not in have]
if missing:
    print("layerctl: the backend also needs " + ", ".join(missing))
    sys.exit(75)
try:
    built = backend.build_wheel("/layerctl/wheel")
except ImportError as exc:
    print("layerctl: the build needs %s, which is not among its requires" % (exc.name or exc))
    sys.exit(75)
print("layerctl: built " + built)
"""

# A package without a wheel for the target: its source distribution (checked against the lock's
# hashes when it has them) built into a wheel, the package alone (its dependencies are in the set).
# A local sdist with a build environment (mounted at /layerctl/buildenv) is built directly first.
SDIST_SCRIPT = (
    "set -eu\n"
    + receive_script(SECRETS_DIR)
    + _PROBE_BODY
    + _REPRODUCIBLE
    + """if [ -d /layerctl/buildenv ]; then
  if mkdir /tmp/src && tar -xzf /layerctl/sdist.tar.gz -C /tmp/src && cd /tmp/src/*; then
    rc=0
    "$py" -S -c "$LAYERCTL_HOOK" || rc=$?
    [ "$rc" -eq 0 ] && exit 0
    [ "$rc" -ne 75 ] && exit "$rc"  # the compile failed: pip would fail the same way
    cd /tmp
  fi
  echo "layerctl: pip wheel with its build isolation instead"
  rm -rf /layerctl/wheel/* /tmp/src
fi
exec "$py" -m pip wheel --no-deps --no-binary {name} --wheel-dir /layerctl/wheel \\
    --requirement /layerctl/requirements.txt
"""
)


class SelfProbe:
    """The build's log sink, reading the probe lines the build script prints before pip runs:
    a container that reports another machine than the target's is stopped at once."""

    def __init__(self, arch: Arch, log: LineSink | BatchSink) -> None:
        self.arch, self.deliver = arch, lines_to(log)
        self.machine: str | None = None
        self.pip: str | None = None

    async def __call__(self, line: str) -> None:
        await self.batch([line])

    async def batch(self, lines: list[str]) -> None:
        if self.pip is None:
            for line in lines:
                if not line.startswith(_PROBE_MARK):
                    continue
                key, _, value = line.removeprefix(_PROBE_MARK).strip().partition(" ")
                if key == "machine":
                    self.machine = value
                    if value != self.arch.machine:
                        await self.deliver(lines)
                        raise EnvironmentProblem(
                            f"a {self.arch} container reports machine {value!r}, not {self.arch.machine}: "
                            + BINFMT_FIX
                        )
                elif key == "pip":
                    self.pip = _pip_version(value) if "pip-" in value else "pip unknown"
        await self.deliver(lines)

    def outcome(self, code: int, image: str, python: str) -> str:
        """The image's pip version, once the container has ended with ``code``; an image that
        cannot run here or has no such Python is an EnvironmentProblem (it stops the run)."""
        if self.machine is None and code != 0:  # the shell never started
            raise EnvironmentProblem(
                f"cannot run {self.arch} containers of {image} (exit {code}): " + BINFMT_FIX
            )
        if code == _NO_PYTHON:
            raise EnvironmentProblem(
                f"image {image} has no python{python} on its PATH; use an image for that Python"
            )
        return self.pip or "pip unknown"


def _pip_version(dist_info: str) -> str:
    name = dist_info.rstrip("/").rsplit("/", 1)[-1]
    return "pip " + name.removeprefix("pip-").removesuffix(".dist-info")
