#!/usr/bin/env bash
# Reproduces the model card's evaluation tables (CPU is fine). Usage: bash docs/model_card/run_eval.sh [SHARED]
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${1:-../shared}
out=docs/model_card/eval
off=$shared/weights/official
bash docs/model_card/make_eval_set.sh "$shared/data/train/sice" /tmp/sice_holdout_wellexposed
dce-eval /tmp/sice_holdout_wellexposed --simulate --seed 0 --model zero-dce --official zero-dce=$off/zero_dce_epoch99.pth \
  --json $out/sim_zero_dce.json --markdown $out/sim_zero_dce.md -q
dce-eval /tmp/sice_holdout_wellexposed --simulate --seed 0 --model zero-dce++ --official zero-dce++=$off/zero_dce_pp_epoch99.pth \
  --json $out/sim_zero_dce_pp.json --markdown $out/sim_zero_dce_pp.md -q
dce-eval "$shared/data/lowlight/dicm" --limit 24 --model zero-dce --official zero-dce=$off/zero_dce_epoch99.pth \
  --json $out/dicm_zero_dce.json --markdown $out/dicm_zero_dce.md -q
dce-eval "$shared/data/lowlight/dicm" --limit 24 --model zero-dce++ --official zero-dce++=$off/zero_dce_pp_epoch99.pth \
  --json $out/dicm_zero_dce_pp.json --markdown $out/dicm_zero_dce_pp.md -q
dce-eval "$shared/data/lowlight/sice_real" --limit 12 --max-side 512 --model zero-dce --official zero-dce=$off/zero_dce_epoch99.pth \
  --json $out/sice_real_zero_dce.json --markdown $out/sice_real_zero_dce.md -q
dce-eval "$shared/data/lowlight/sice_real" --limit 12 --max-side 512 --model zero-dce++ --official zero-dce++=$off/zero_dce_pp_epoch99.pth \
  --json $out/sice_real_zero_dce_pp.json --markdown $out/sice_real_zero_dce_pp.md -q
