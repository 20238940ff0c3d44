#!/usr/bin/env bash
# The container test bed: a running Docker engine, arm64 emulation, and stand-in SAM build images.
#
# Installs Debian's docker.io, qemu-user-static, binfmt-support, debootstrap, and tmux and chromium
# for the live-view and report tests (when missing), starts dockerd unless an engine already
# answers, registers binfmt for aarch64, and builds stand-in build images in a repository of
# their own (never the official SAM names: a later real build on this machine must not pick up a
# Debian stand-in). The tests point layerctl at them through the `image` setting:
#   layerctl-testbed/build-python3.11:{x86_64,arm64}   (Debian bookworm, Python 3.11)
#   layerctl-testbed/build-python3.13:{x86_64,arm64}   (Debian trixie,   Python 3.13)
# Like the SAM build images they carry gcc, g++, make and the Python headers.
# Images that already exist are reused. Needs root. Usage: tests/testbed.sh [--check]
# TESTBED_CACHE=DIR: where debootstrap's downloads are kept (default /var/cache/layerctl-testbed).
# The test bed's switches never carry the LAYERCTL_ prefix: layerctl takes those for settings.
set -euo pipefail

CACHE="${TESTBED_CACHE:-/var/cache/layerctl-testbed}"
IMAGES=("3.11 bookworm" "3.13 trixie")
ARCHES=("amd64 x86_64" "arm64 arm64")
log() { echo "[testbed] $*"; }

engine_up() { docker info >/dev/null 2>&1; }

if [ "${1:-}" = "--check" ]; then
  engine_up && echo "engine: up" || echo "engine: down"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "testbed: needs root (apt-get, dockerd, binfmt)" >&2
  exit 3
fi

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -e /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || need+=(binfmt-support)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v tmux >/dev/null 2>&1 || need+=(tmux)          # the live view test: a real terminal
command -v chromium >/dev/null 2>&1 || need+=(chromium)  # report.html rendered headless
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! engine_up; then
  log "starting dockerd"
  setsid dockerd >/tmp/layerctl-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do engine_up && break; sleep 1; done
  engine_up || { echo "testbed: dockerd did not start; see /tmp/layerctl-dockerd.log" >&2; exit 3; }
fi

mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
if ! grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
  log "registering qemu-aarch64 with binfmt_misc"
  update-binfmts --enable qemu-aarch64 || true
fi
grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
  || { echo "testbed: qemu-aarch64 binfmt is not registered with the F flag" >&2; exit 3; }

# Write a one-layer docker-archive for ROOTFS and load it: unlike `docker import`, this records
# the image's architecture, so `--platform linux/arm64` finds the local image.
load_rootfs() {
  local rootfs=$1 tag=$2 arch=$3 work
  work=$(mktemp -d)
  tar -C "$rootfs" --numeric-owner -cf "$work/layer.tar" .
  local sha
  sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mkdir "$work/$sha"
  mv "$work/layer.tar" "$work/$sha/layer.tar"
  cat > "$work/config.json" <<JSON
{"architecture": "$arch", "os": "linux",
 "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
            "Cmd": ["/bin/bash"], "WorkingDir": "/", "Labels": {"org.layerctl.testbed": "1"}},
 "rootfs": {"type": "layers", "diff_ids": ["sha256:$sha"]}}
JSON
  printf '[{"Config": "config.json", "RepoTags": ["%s"], "Layers": ["%s/layer.tar"]}]' "$tag" "$sha" \
    > "$work/manifest.json"
  tar -C "$work" -cf - manifest.json config.json "$sha" | docker load -q
  rm -rf "$work"
}

build_image() {
  local python=$1 suite=$2 debarch=$3 arch=$4
  local tag="layerctl-testbed/build-python$python:$arch"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag: present"
    return
  fi
  log "$tag: debootstrap $suite $debarch (minutes under emulation)"
  local rootfs="$CACHE/rootfs-$suite-$debarch"
  rm -rf "$rootfs"
  mkdir -p "$CACHE/debs-$suite-$debarch"
  debootstrap --variant=minbase --arch="$debarch" --cache-dir="$CACHE/debs-$suite-$debarch" \
    --include=python3,python3-pip,python3-venv,python3-dev,gcc,g++,make,libc6-dev,ca-certificates,unzip \
    "$suite" "$rootfs" >"$CACHE/debootstrap-$suite-$debarch.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap-$suite-$debarch.log" >&2; exit 3; }
  # Behave like the SAM images: pip is not externally managed; `python` and `pip` exist.
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf python3 "$rootfs/usr/bin/python"
  ln -sf pip3 "$rootfs/usr/bin/pip"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  load_rootfs "$rootfs" "$tag" "$debarch"
  rm -rf "$rootfs"
  log "$tag: built"
}

pids=()
for image in "${IMAGES[@]}"; do
  for arch in "${ARCHES[@]}"; do
    # shellcheck disable=SC2086
    build_image $image $arch &
    pids+=($!)
  done
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
[ $status = 0 ] || exit $status
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep layerctl-testbed/ || true
log "ready"
