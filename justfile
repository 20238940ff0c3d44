# layerctl developer recipes (the README's two commands need no `just`).

# create .venv with layerctl and the dev tools
setup:
    bash -c 'source scripts/_env.sh "[dev]"'

# build the bundled example monorepo
demo *ARGS:
    scripts/demo {{ARGS}}

# ruff + mypy + pytest
test *ARGS:
    scripts/test {{ARGS}}

# lint only
lint:
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy

# print the benchmark figures
bench:
    .venv/bin/python benchmarks/bench_native.py
    .venv/bin/python benchmarks/bench_container.py

# remove build outputs of the example
clean:
    .venv/bin/layerctl -C examples/monorepo clean

# Docker engine, QEMU and stand-in SAM images for the container tests (root)
testbed:
    bash tests/testbed.sh
