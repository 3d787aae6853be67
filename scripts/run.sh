#!/usr/bin/env bash
# Installs dependencies, builds, and runs the main job: sentence embeddings with `embed encode`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
MODEL="${1:-tests/data/models/bert-tiny}"
./build/embed encode -m "$MODEL" "Hello Sentence Transformers library!" "Generate sentence embeddings!"
