"""Turn a ``dce-train`` checkpoint (``last.pt``) into a shippable safetensors file.

Loads with ``weights_only=True``, flushes subnormal values, writes ``<stem>-<sha256[:8]>.safetensors``
atomically and prints the sha256 for the registry entry in ``dce_transforms/models.py``.

    python docs/model_card/export_checkpoint.py runs/zero_dce_pp/last.pt dce_transforms/weights/zero_dce_pp_sice_v2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dce_transforms._weights import flush_denormals, save_state_dict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="last.pt written by dce-train")
    ap.add_argument("stem", help="output path without the '-<sha8>.safetensors' ending")
    args = ap.parse_args()
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    state = ckpt["model"]
    flushed = flush_denormals(state)
    changed = sum(int((a != b).sum()) for a, b in zip(state.values(), flushed.values()))
    tmp = Path(args.stem + ".safetensors")
    sha = save_state_dict(flushed, tmp, metadata={"step": str(ckpt["step"]), "epoch": str(ckpt["epoch"])})
    final = tmp.with_name(f"{tmp.stem}-{sha[:8]}.safetensors")
    tmp.replace(final)
    print(f"step {ckpt['step']}  denormals flushed {changed}  {final}  sha256 {sha}")


if __name__ == "__main__":
    main()
