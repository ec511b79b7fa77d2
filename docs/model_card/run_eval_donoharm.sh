#!/usr/bin/env bash
# Do-no-harm tables of the model card: our old and new (adaptive) weights and the authors' side by side on
# well-exposed and over-exposed held-out SICE frames, COCO8 + Ultralytics' bus.jpg, the simulated dark pairs,
# DICM and SICE real. CPU is fine. Usage: bash docs/model_card/run_eval_donoharm.sh [SHARED]
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${1:-../shared}
out=docs/model_card/eval
off=$shared/weights/official
py=${PYTHON:-.venv/bin/python}
link_list() {  # link_list LIST SRC DST: link the files named in LIST from SRC into DST
  mkdir -p "$3"; grep -v '^#' "$1" | while read -r n; do ln -sf "$(cd "$2" && pwd)/$n" "$3/$n"; done
}
link_list docs/model_card/sice_eval_wellexposed.txt "$shared/data/train/sice" /tmp/dnh_sice_well
link_list docs/model_card/sice_eval_overexposed.txt "$shared/data/train/sice" /tmp/dnh_sice_over
mkdir -p /tmp/dnh_coco8_bus
for f in "$shared"/data/detection/coco8/images/*/*; do ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" /tmp/dnh_coco8_bus/; done
bus=$($py -c "import ultralytics, pathlib; print(pathlib.Path(ultralytics.__file__).parent / 'assets' / 'bus.jpg')" 2>/dev/null || true)
if [ -n "$bus" ] && [ -f "$bus" ]; then ln -sf "$bus" /tmp/dnh_coco8_bus/bus.jpg; fi
run() {  # run OUT_TAG ARGS...: one dce-eval call, skipped when its table exists (delete it to re-run)
  local tag=$1; shift
  [ -f "$out/$tag.md" ] && { echo "kept $out/$tag.md"; return; }
  $py -m dce_transforms.cli.dce_eval "$@" -q --json "$out/$tag.json" --markdown "$out/$tag.md"
}
for m in zero-dce zero-dce++; do
  if [ $m = zero-dce ]; then old=sice-v1; new=sice-v1-adaptive; ck=$off/zero_dce_epoch99.pth; tag=zero_dce
  else old=sice-v2; new=sice-v2-adaptive; ck=$off/zero_dce_pp_epoch99.pth; tag=zero_dce_pp; fi
  all=(--model $m --weights $old --weights $new --official $m=$ck)
  # Well-lit and over-exposed inputs: old and new weights and the authors' side by side.
  run well_sice_$tag /tmp/dnh_sice_well --well-lit "${all[@]}"
  run well_coco8_$tag /tmp/dnh_coco8_bus --well-lit --max-side 512 "${all[@]}"
  run over_sice_$tag /tmp/dnh_sice_over "${all[@]}"
  # Dark inputs: the new weights only; the old weights' and the authors' rows of the very same commands are in
  # sim_$tag, dicm_$tag and sice_real_$tag (run_eval.sh), and the code they ran is unchanged.
  new_only=(--model $m --weights $new)
  run sim_adaptive_$tag /tmp/dnh_sice_well --simulate --seed 0 "${new_only[@]}"
  run dicm_adaptive_$tag "$shared/data/lowlight/dicm" --limit 24 "${new_only[@]}"
  run sice_real_adaptive_$tag "$shared/data/lowlight/sice_real" --limit 12 --max-side 512 "${new_only[@]}"
done
