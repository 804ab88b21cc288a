#!/usr/bin/env bash
# Compiles the CUDA kernels (engine/src/main/cuda/*.cu, one op family per file) to PTX for sm_90 with nvcc and
# writes them as resources of the engine (engine/src/main/resources/dev/tokenmill/backend/cuda/ptx/NAME.ptx).
# Each PTX starts with the sha256 of every source it was built from; PtxStalenessTest (run by CI, which has no
# nvcc) fails when a .cu or common.cuh changed after its PTX. Run this after editing a kernel and commit both.
# The driver JIT-compiles sm_90 PTX for any later architecture too (compute capability >= 9.0).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$here/engine/src/main/cuda"
out="$here/engine/src/main/resources/dev/tokenmill/backend/cuda/ptx"
arch=${PTX_ARCH:-sm_90}
nvcc=${NVCC:-nvcc}
command -v "$nvcc" >/dev/null || { echo "build-ptx: no nvcc (set NVCC)" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  "$nvcc" -ptx -arch="$arch" -O3 -I"$src" -o "$tmp/$name.ptx" "$cu"
  {
    echo "// tokenmill-ptx arch=$arch nvcc=$("$nvcc" --version | grep -o 'release [0-9.]*' | cut -d' ' -f2)"
    echo "// tokenmill-src $name.cu sha256=$(sha256sum "$cu" | cut -d' ' -f1)"
    echo "// tokenmill-src common.cuh sha256=$(sha256sum "$src/common.cuh" | cut -d' ' -f1)"
    cat "$tmp/$name.ptx"
  } > "$out/$name.ptx"
  echo "build-ptx: $name.ptx ($(wc -c < "$out/$name.ptx") bytes)"
done
