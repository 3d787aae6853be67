#!/usr/bin/env bash
# Installs the Debian 12 packages embed needs to build and test (run as root, or with sudo available).
set -euo pipefail
PACKAGES=(
  cmake g++ ninja-build ccache pkg-config
  libopenblas-openmp-dev libdnnl-dev # small per-head products (OpenBLAS on our OpenMP pool); GEMM
  ocl-icd-opencl-dev                  # dnnl-config.cmake calls find_package(OpenCL) (Debian builds oneDNN with its GPU runtime)
  libsentencepiece-dev                # spm.model (protobuf) reader
  libutf8proc-dev                     # Unicode normalization forms and categories
  libonig-dev                         # Oniguruma: the regex engine Hugging Face tokenizers uses
  nlohmann-json3-dev libcli11-dev libzip-dev zlib1g-dev
  libsimdjson-dev                     # tokenizer.json / vocab.json (30x faster than the nlohmann DOM)
  libgtest-dev libgmock-dev libbenchmark-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
