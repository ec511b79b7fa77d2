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
for m in zero-dce zero-dce++; do
  if [ $m = zero-dce ]; then old=sice-v1; new=sice-v1-adaptive; ck=$off/zero_dce_epoch99.pth; tag=zero_dce
  else old=sice-v2; new=sice-v2-adaptive; ck=$off/zero_dce_pp_epoch99.pth; tag=zero_dce_pp; fi
  common=(--model $m --weights $old --weights $new --official $m=$ck -q)
  $py -m dce_transforms.evaluate /tmp/dnh_sice_well --well-lit "${common[@]}" --json $out/well_sice_$tag.json --markdown $out/well_sice_$tag.md
  $py -m dce_transforms.evaluate /tmp/dnh_coco8_bus --well-lit --max-side 512 "${common[@]}" --json $out/well_coco8_$tag.json --markdown $out/well_coco8_$tag.md
  $py -m dce_transforms.evaluate /tmp/dnh_sice_over "${common[@]}" --json $out/over_sice_$tag.json --markdown $out/over_sice_$tag.md
  $py -m dce_transforms.evaluate /tmp/dnh_sice_well --simulate --seed 0 "${common[@]}" --json $out/sim_$tag.json --markdown $out/sim_$tag.md
  $py -m dce_transforms.evaluate "$shared/data/lowlight/dicm" --limit 24 "${common[@]}" --json $out/dicm_$tag.json --markdown $out/dicm_$tag.md
  $py -m dce_transforms.evaluate "$shared/data/lowlight/sice_real" --limit 12 --max-side 512 "${common[@]}" --json $out/sice_real_$tag.json --markdown $out/sice_real_$tag.md
done
