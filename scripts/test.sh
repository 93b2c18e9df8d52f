#!/usr/bin/env bash
# The whole test suite: system packages (installed if missing), a check that
# the committed BPF test objects rebuild byte for byte, then every cargo test.
# Kernel tests need root (CAP_BPF, CAP_SYS_ADMIN); with BPFLD_REQUIRE_KERNEL=1
# a test that would skip for lack of bpf() fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="clang-19 llvm-19 bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config qemu-system-x86 busybox-static"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "missing Debian packages:$missing (run as root to install them)" >&2
    exit 1
  fi
fi

cargo fmt --all --check

if [ -x tests/bpf/build.sh ]; then
  tests/bpf/build.sh --check
fi

cargo test --workspace --release
