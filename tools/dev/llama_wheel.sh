#!/usr/bin/env bash
# Installs llama-cpp-python into a venv, compiled for a CPU baseline and never for the build machine.
#
# Why: llama.cpp's default build is GGML_NATIVE (-march=native). On a VM whose CPU advertises AMX that it
# cannot execute, ggml's AMX kernel (ldtilecfg) killed the model server on its first request; a native
# build also passes where it was built and crashes on the next machine. So x86-64 gets AVX2/FMA/F16C/BMI2
# (every x86-64 machine we run on has them), with AVX-512, AVX-VNNI and AMX off.
#
# Why our own wheelhouse: pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS, so a wheel once built
# natively would be reused by every later `pip install llama-cpp-python`. The wheel is built here with
# --no-cache-dir into a folder keyed by version, flags and architecture, and installed from that exact file
# with --force-reinstall, so a venv (or a pip cache) holding a native build ends up with the portable one.
#
# usage: tools/dev/llama_wheel.sh VENV_PYTHON    (the version comes from requirements-local.txt)
set -euo pipefail
PY="$1"
HERE="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION="$(sed -n 's/^llama-cpp-python==\([0-9.]*\).*/\1/p' "$HERE/requirements-local.txt")"
test -n "$VERSION" || { echo "no llama-cpp-python==VERSION pin in requirements-local.txt" >&2; exit 1; }

# One line per architecture. LLAVA_BUILD=OFF: the multimodal library (mtmd) is never loaded here, and skipping
# it saves a fifth of the compile.
case "$(uname -m)" in
  x86_64) FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF" ;;
  *) FLAGS="-DGGML_NATIVE=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_BACKEND_DL=OFF -DLLAMA_CURL=OFF -DLLAVA_BUILD=OFF" ;;
esac

# The wheel is py3-none (ctypes, no CPython ABI), so one build serves every Python on the machine.
KEY="$(printf '%s\n' "$VERSION" "$FLAGS" "$(uname -m)" | sha256sum | cut -c1-16)"
ROOT="${BAKEOFF_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/bakeoff/wheels}"
HOUSE="$ROOT/llama-cpp-python-$VERSION-$KEY"

if [ -n "${BAKEOFF_REBUILD_LLAMA:-}" ]; then rm -rf "$HOUSE"; fi
if ! compgen -G "$HOUSE/llama_cpp_python-*.whl" >/dev/null; then
  echo "Compiling llama.cpp $VERSION for a portable CPU baseline (about 5 minutes on 2 cores, once per machine) ..."
  rm -rf "$HOUSE.partial"; mkdir -p "$HOUSE.partial"
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip wheel -q --no-cache-dir --no-deps -w "$HOUSE.partial" "llama-cpp-python==$VERSION"
  printf '%s\n' "$FLAGS" > "$HOUSE.partial/CMAKE_ARGS"
  rm -rf "$HOUSE"; mv "$HOUSE.partial" "$HOUSE"   # a half-built folder is never taken for a wheel
fi
WHEEL="$(compgen -G "$HOUSE/llama_cpp_python-*.whl" | head -1)"
"$PY" -m pip install -q --force-reinstall --no-deps "$WHEEL"
"$PY" -m pip install -q "$WHEEL"   # its pure-Python dependencies (numpy, jinja2, diskcache)
echo "llama-cpp-python $VERSION installed from $WHEEL"
