#!/usr/bin/env bash
# Link the well-exposed held-out SICE frames into one folder for `dce-eval --simulate`.
# Usage: bash docs/model_card/make_eval_set.sh ../shared/data/train/sice /tmp/sice_holdout_wellexposed
set -euo pipefail
src=$(cd "$1" && pwd); dst=$2
mkdir -p "$dst"
grep -v '^#' "$(dirname "$0")/sice_eval_wellexposed.txt" | while read -r name; do
  ln -sf "$src/$name" "$dst/$name"
done
echo "$(ls "$dst" | wc -l) images in $dst"
