# Shared set-up for scripts/demo and scripts/test: a virtualenv in .venv with layerctl installed.
# Sourced, not run. Needs only python3; on Debian it installs python3-venv when that is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"

if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== installing python3-venv (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "error: python3 cannot create virtualenvs; install python3-venv" >&2
    exit 3
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.layerctl-installed$EXTRAS"
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  echo "== installing layerctl${EXTRAS:+ with $EXTRAS} into .venv"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT$EXTRAS"
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
