#!/bin/sh
# Compiles libtokenmill.so for linux-x86_64 into $1 (the Maven build passes target/classes/native/linux-x86_64).
# Never fails the build: without gcc, or if compiling fails, it warns and the engine runs its Java kernels.
# Skips the compile when the library is newer than every source. No -march=native: the library picks
# AVX-512 VNNI or AVX2 code at run time, so it runs on any x86-64 CPU with AVX2.
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUTPUT_DIR}"
lib="$out/libtokenmill.so"
if [ -f "$lib" ] && [ -z "$(find "$here" -name '*.c' -newer "$lib" -print)" ] && [ "$lib" -nt "$0" ]; then
  exit 0
fi
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "[WARNING] tokenmill native kernels not built: '$cc' not found; the Java kernels will be used" >&2
  exit 0
fi
mkdir -p "$out"
if ! "$cc" -O3 -std=gnu11 -fPIC -shared -ffp-contract=off -fno-math-errno -Wall -o "$lib.tmp" "$here"/tokenmill.c; then
  echo "[WARNING] tokenmill native kernels failed to compile; the Java kernels will be used" >&2
  rm -f "$lib.tmp"
  exit 0
fi
mv "$lib.tmp" "$lib"
