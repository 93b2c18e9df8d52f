#!/usr/bin/env bash
# Builds every tests/bpf/*.bpf.c into tests/bpf/obj/*.bpf.o with clang-19.
#
#   tests/bpf/build.sh           rebuild the committed objects
#   tests/bpf/build.sh --check   rebuild into a scratch dir and fail if any
#                                object differs from the committed one
#
# The objects are committed so that `cargo test` needs no clang. Builds are
# reproducible: sources are compiled by relative path from this directory,
# with the compilation directory recorded as ".", and DWARF is stripped
# (the .BTF and .BTF.ext sections, which the loader needs, stay).
set -euo pipefail
cd "$(dirname "$0")"

CLANG=${CLANG:-clang-19}
STRIP=${STRIP:-llvm-strip-19}
CFLAGS=(-target bpf -O2 -g -Wall -Werror -Wno-unused-function
        -fdebug-compilation-dir=. -I include -I /usr/include/bpf -I /usr/include/x86_64-linux-gnu -D__TARGET_ARCH_x86)

out=obj
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

status=0
for src in *.bpf.c; do
  o="$out/${src%.c}.o"
  "$CLANG" "${CFLAGS[@]}" -c "$src" -o "$o"
  "$STRIP" -g "$o"
  if [ $check = 1 ]; then
    if ! cmp -s "$o" "obj/${src%.c}.o"; then
      echo "tests/bpf/obj/${src%.c}.o differs from a rebuild of $src (run tests/bpf/build.sh and commit)" >&2
      status=1
    fi
  fi
done
# The examples' programs (examples/NAME/NAME.bpf.c), built the same way
# from their own directory, their objects committed beside them.
for src in ../../examples/*/*.bpf.c; do
  [ -e "$src" ] || continue
  dir=$(dirname "$src"); base=$(basename "$src" .c)
  if [ $check = 1 ]; then o="$out/$base.o"; else o="$dir/$base.o"; fi
  abs=$(realpath -m "$o"); inc=$(realpath include)
  (cd "$dir" && "$CLANG" "${CFLAGS[@]}" -I "$inc" -c "$base.c" -o "$abs")
  "$STRIP" -g "$o"
  if [ $check = 1 ] && ! cmp -s "$o" "$dir/$base.o"; then
    echo "examples/$(basename "$dir")/$base.o differs from a rebuild of $base.c (run tests/bpf/build.sh and commit)" >&2
    status=1
  fi
done

if [ $check = 1 ]; then
  for o in obj/*.bpf.o; do
    [ -e "$o" ] || continue
    b=$(basename "$o" .o)
    [ -e "$b.c" ] || { echo "$o has no source $b.c" >&2; status=1; }
  done
  [ $status = 0 ] && echo "tests/bpf: every committed object rebuilds byte for byte"
fi
exit $status
