#!/usr/bin/env bash
# Peer benchmark: embed vs ONNX Runtime vs PyTorch, same inputs, one run. See bench/README.md.
#
#   bash bench/run_bench.sh            # everything (MiniLM-L6 shape + all-mpnet-base-v2 shape)
#   BENCH_MODELS=minilm-l6 bash bench/run_bench.sh     # one shape only
#
# Installs its own benchmark-only peers (Debian python3-torch, npm onnxruntime-node + HF tokenizers into
# bench/peers/node_modules, libopenblas0-openmp extracted into bench/work/), builds build/embed (whose
# `embed bench` measures us), makes the random-weight models and their ONNX exports in bench/work/, then runs
# bench/peers/run_matrix.py, which prints the table (also saved to bench/work/results.md).
# Every peer step that fails is reported and its rows are skipped; the script still prints what it measured.
# Not part of the tests or CI.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${BENCH_WORK:-$ROOT/bench/work}
export BENCH_WORK=$WORK
PY=${BENCH_PYTHON:-/usr/bin/python3}
export BENCH_PYTHON=$PY
TOOLS=${BENCH_TOOLS:-$ROOT/../shared/tools}
mkdir -p "$WORK"
say() { echo "run_bench: $*" >&2; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
apt_install() {  # apt_install PKG... ; returns non-zero on failure
  if [ $apt_updated = 0 ]; then $SUDO apt-get update -q >/dev/null 2>&1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$@" >"$WORK/apt.log" 2>&1
}

# ---- 1. peers -------------------------------------------------------------------------------------------
if ! "$PY" -c "import numpy" 2>/dev/null; then
  say "installing python3-numpy (needed to make the random-weight models)"
  apt_install python3-numpy || say "python3-numpy install failed (see $WORK/apt.log)"
fi
if [ "${BENCH_SKIP_TORCH:-0}" != 1 ] && ! "$PY" -c "import torch" 2>/dev/null; then
  say "installing python3-torch (PyTorch peer and the ONNX export)"
  apt_install python3-torch python3-numpy || say "python3-torch install failed (see $WORK/apt.log): PyTorch and ONNX Runtime rows will be skipped"
fi
# A fair PyTorch baseline: OpenBLAS (OpenMP build, so torch.set_num_threads governs it) first on the library
# path, extracted here without touching the system's BLAS alternatives.
OB=$WORK/openblas/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -e "$OB/libopenblas.so.0" ]; then
  say "extracting libopenblas0-openmp into $WORK/openblas"
  ( mkdir -p "$WORK/debs" && cd "$WORK/debs" && rm -f libopenblas0-openmp_*.deb &&
    { apt-get download libopenblas0-openmp >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null 2>&1 && apt-get download libopenblas0-openmp >/dev/null 2>&1; }; } &&
    dpkg -x libopenblas0-openmp_*.deb "$WORK/openblas" ) ||
    say "could not get libopenblas0-openmp: PyTorch runs with the system BLAS"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing nodejs + npm"
  apt_install nodejs npm || say "nodejs/npm install failed"
fi
if command -v npm >/dev/null && { [ ! -d bench/peers/node_modules/onnxruntime-node ] || [ ! -d bench/peers/node_modules/@anush008/tokenizers ]; }; then
  say "npm ci in bench/peers (onnxruntime-node, @anush008/tokenizers)"
  # ONNXRUNTIME_NODE_INSTALL=skip: its postinstall would fetch CUDA binaries from outside the npm registry.
  ( cd bench/peers && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >"$WORK/npm.log" 2>&1 ) ||
    say "npm install failed (see $WORK/npm.log): ONNX Runtime rows will be skipped"
fi
if [ ! -d bench/peers/node_modules/@anush008/tokenizers ]; then
  say "no HF tokenizers for the peers: ONNX Runtime and PyTorch rows will be skipped"
fi

# ---- 2. embed -------------------------------------------------------------------------------------------
if [ "${BENCH_BUILD:-1}" != 0 ]; then
  say "building build/embed"
  if [ ! -f build/build.ninja ] && [ ! -f build/Makefile ]; then
    bash scripts/install-deps.sh >"$WORK/build.log" 2>&1
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >>"$WORK/build.log" 2>&1
  fi
  cmake --build build --target embed >>"$WORK/build.log" 2>&1 ||
    say "build of embed failed (see $WORK/build.log): embed rows will be skipped"
fi

# ---- 3. models and ONNX exports ------------------------------------------------------------------------
make_model() {  # make_model NAME ARGS...
  local name=$1; shift
  local dir=$WORK/$name stamp="$*"
  if [ -f "$dir/config.json" ] && [ "$(cat "$dir/.args" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  say "making random-weight model $name"
  rm -rf "$dir"
  "$PY" "$TOOLS/make_random_model.py" "$@" --out "$dir" >"$WORK/make_$name.log" 2>&1 &&
    echo "$stamp" >"$dir/.args" || { say "make_random_model failed for $name (see $WORK/make_$name.log)"; rm -rf "$dir"; return 1; }
}
export_onnx() {  # export_onnx NAME
  local dir=$WORK/$1
  [ -f "$dir/config.json" ] || return 0
  "$PY" -c "import torch" 2>/dev/null || return 0
  if [ ! -f "$dir/model.onnx" ] || [ "$dir/model.onnx" -ot "$dir/model.safetensors" ]; then
    say "exporting $1 to ONNX (fp32)"
    "$PY" bench/peers/export_onnx.py "$dir" "$dir/model.onnx" >"$WORK/export_$1.log" 2>&1 || say "ONNX export of $1 failed (see $WORK/export_$1.log)"
  fi
  if [ "${BENCH_ORT_INT8:-1}" != 0 ] && { [ ! -f "$dir/model.int8.onnx" ] || [ "$dir/model.int8.onnx" -ot "$dir/model.safetensors" ]; }; then
    say "exporting $1 to ONNX (dynamic int8, quantize_dynamic's graph)"
    "$PY" bench/peers/export_onnx.py "$dir" "$dir/model.int8.onnx" --int8 >"$WORK/export_$1_int8.log" 2>&1 || say "int8 ONNX export of $1 failed (see $WORK/export_$1_int8.log)"
  fi
}
MODELS=${BENCH_MODELS:-minilm-l6 mpnet-base}
export BENCH_MODELS=$MODELS
for m in $MODELS; do
  case $m in
    minilm-l6) make_model minilm-l6 --arch bert --hidden 384 --layers 6 --heads 12 --intermediate 1536 \
                 --vocab-from tests/data/tokenizers/all-MiniLM-L6-v2 --normalize --max-seq-length 256 ;;
    mpnet-base) make_model mpnet-base --arch mpnet --hidden 768 --layers 12 --heads 12 --intermediate 3072 \
                 --vocab-from tests/data/tokenizers/all-mpnet-base-v2 --normalize --max-seq-length 384 ;;
    bert-base) make_model bert-base --arch bert --hidden 768 --layers 12 --heads 12 --intermediate 3072 \
                 --vocab-from tests/data/tokenizers/all-MiniLM-L6-v2 --normalize --max-seq-length 256 ;;
    *) say "unknown model shape $m (minilm-l6, mpnet-base, bert-base)"; continue ;;
  esac
  export_onnx "$m"
done

# ---- 4. the peers compute the reference function ---------------------------------------------------------
if "$PY" -c "import torch" 2>/dev/null; then
  "$PY" bench/peers/torch_bert.py check tests/data/models >&2 ||
    say "WARNING: the peers' model does not match the fixtures: their rows do not compute the reference function"
fi

# ---- 5. measure ----------------------------------------------------------------------------------------
exec "$PY" bench/peers/run_matrix.py
