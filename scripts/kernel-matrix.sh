#!/usr/bin/env bash
# The real-kernel matrix: boots Debian's 6.1 and 6.12 kernels under qemu
# (TCG unless the CPU has vmx/svm), loads every tests/bpf/obj object there
# and on the host with `bpfld load --json`, and compares each result with
# `bpfld check --json` run on that kernel's package. See docs/kernel-matrix.md.
#
#   scripts/kernel-matrix.sh [--no-host] [--kernel RELEASE]... [--timeout SECS]
#                            [--cache DIR] [--objects DIR]
#
# Packages are downloaded once (apt-get download, never installed) into
# ${BPFLD_CACHE:-$HOME/.cache/bpfld}. Exit status: 0 when every disagreement
# is a known limit, 1 otherwise, 3 when qemu, busybox or the packages are
# unavailable (1 under BPFLD_REQUIRE_KERNEL=1).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p bpfld-cli -p bpfld-matrix
cargo build --release --quiet -p bpfld-reference --example libbpf_load
target=${CARGO_TARGET_DIR:-target}
exec "$target/release/kernel-matrix" --bpfld "$target/release/bpfld" --libbpf "$target/release/examples/libbpf_load" "$@"
