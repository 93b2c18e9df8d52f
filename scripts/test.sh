#!/usr/bin/env bash
# The whole test suite: system packages (installed if missing), a check that
# the committed BPF test objects rebuild byte for byte, then every cargo test.
# Kernel tests need root (CAP_BPF, CAP_SYS_ADMIN); with BPFLD_REQUIRE_KERNEL=1
# a test that would skip for lack of bpf() fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS="clang-19 llvm-19 bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config qemu-system-x86 busybox-static systemtap-sdt-dev"
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

# Lints on every target (tests and benchmarks included), and documentation
# of the public library crates without warnings (broken or private links)
# and with every public item documented (-D missing-docs).
cargo clippy --workspace --all-targets --release -- -D warnings
RUSTDOCFLAGS="-D warnings -D missing-docs" cargo doc --no-deps -q -p bpfld-sys -p bpfld -p bpfld-obj -p bpfld-btf -p bpfld-asm \
  -p bpfld-fleet -p bpfld-gen -p bpfld-build -p bpfld-boot -p bpfld-extract

if [ -x tests/bpf/build.sh ]; then
  tests/bpf/build.sh --check
fi

# Every test that did not run, and why, is listed at the end (a skip for a
# missing input is a failure under BPFLD_REQUIRE_KERNEL=1; what remains are
# the machine's stated limits).
skip_log=$(mktemp)
out_log=$(mktemp)
trap 'rm -f "$skip_log" "$out_log"' EXIT
set +e
BPFLD_SKIP_LOG="$skip_log" cargo test --workspace --release --no-fail-fast 2>&1 | tee "$out_log"
status=${PIPESTATUS[0]}
set -e

echo
if [ -s "$skip_log" ]; then
  echo "Not run on this machine, and why:"
  sort -u "$skip_log" | sed 's/^/  /'
else
  echo "Not run on this machine: nothing."
fi
passed=$(grep '^test result:' "$out_log" | grep -o '[0-9]* passed' | awk '{n += $1} END {print n + 0}')
failed=$(grep '^test result:' "$out_log" | grep -o '[0-9]* failed' | awk '{n += $1} END {print n + 0}')
skipped=$(sort -u "$skip_log" | wc -l)
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
