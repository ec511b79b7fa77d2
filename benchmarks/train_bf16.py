"""Does bf16 autocast train faster on this CPU? One dce-train step (forward, zero-reference loss,
backward, Adam) in float32 and under ``torch.autocast("cpu", dtype=torch.bfloat16)``, timed
interleaved (fp32 step, bf16 step, ...) after a warm-up; the median of the per-pair ratios is
reported with the processor's model name. Also the loss of both precisions on the same batch.

    python benchmarks/train_bf16.py [--pairs 8] [--crop 128] [--batch 8] [-o benchmarks/results/train-bf16.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from bench import _cpu_name as cpu_name  # the same processor line as bench.py (this folder is on sys.path)

from dce_transforms import ZeroReferenceLoss, get_model


def make_step(name: str, bf16: bool, crop: int):
    torch.manual_seed(0)
    model = get_model(name, weights=None).train().to(memory_format=torch.channels_last)
    loss_fn = ZeroReferenceLoss(tv_weight=1600 if name == "zero-dce++" else 200)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(x: torch.Tensor) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y, alpha = model(x, return_curves=True)
        loss, _ = loss_fn(y.float(), x, alpha.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=8, help="timed fp32/bf16 pairs (default %(default)s)")
    p.add_argument("--crop", type=int, default=128, help="crop side (default %(default)s)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default %(default)s)")
    p.add_argument("-o", "--out", default=None, help="also write the markdown table here")
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, 3, args.crop, args.crop, generator=g) * 0.4).contiguous(
        memory_format=torch.channels_last)
    lines = [f"CPU: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
             f"batch {args.batch}, crop {args.crop}, {args.pairs} interleaved pairs after 1 warm-up pair",
             "", "| model | fp32 step ms | bf16 step ms | speed-up (median of pairs) | loss fp32 / bf16 (first step) |",
             "|---|---:|---:|---:|---|"]
    for name in ("zero-dce", "zero-dce++"):
        f32, b16 = make_step(name, False, args.crop), make_step(name, True, args.crop)
        l32, l16 = f32(x), b16(x)  # warm-up; identical initial weights, so the losses are comparable
        t32, t16, ratios = [], [], []
        for _ in range(args.pairs):
            t = time.perf_counter()
            f32(x)
            a = time.perf_counter() - t
            t = time.perf_counter()
            b16(x)
            b = time.perf_counter() - t
            t32.append(a)
            t16.append(b)
            ratios.append(a / b)
        lines.append(f"| {name} | {statistics.median(t32) * 1e3:.0f} | {statistics.median(t16) * 1e3:.0f} | "
                     f"{statistics.median(ratios):.2f}× | {l32:.4f} / {l16:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text)
        tmp.replace(out)


if __name__ == "__main__":
    main()
