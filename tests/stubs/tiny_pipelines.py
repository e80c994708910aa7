"""Tiny randomly initialised FLUX pipelines, built from configs (no downloads), saved to disk.

Shapes follow diffusers' own FluxKontext pipeline tests (one double and one single
transformer block, a one-block VAE, small CLIP and T5 text encoders). Those tests load
their tokenizers from the hub; here both are word-level tokenizers built in memory
with the ``tokenizers`` library, so nothing is fetched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WORDS = [
    *("a", "the", "of", "and", "with", "in", "on", "for", "who", "love", "dog", "dogs", "cat"),
    *("cats", "owners", "outdoor", "activities", "product", "photo", "scene", "left", "right"),
    *("place", "into", "advertisement", "keep"),
]


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        model_max_length=77,
    )  # fmt: skip


def tiny_flux_components() -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )  # fmt: skip
    clip = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, pad_token_id=1, vocab_size=1000,
        projection_dim=32,
    ))  # fmt: skip
    t5 = T5EncoderModel(T5Config(
        vocab_size=1000, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
    ))  # fmt: skip
    vae = AutoencoderKL(
        sample_size=32, in_channels=3, out_channels=3, block_out_channels=(4,),
        layers_per_block=1, latent_channels=1, norm_num_groups=1, use_quant_conv=False,
        use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035,
    )  # fmt: skip
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(), "vae": vae, "transformer": transformer,
        "text_encoder": clip, "tokenizer": _tokenizer(),
        "text_encoder_2": t5, "tokenizer_2": _tokenizer(),
    }  # fmt: skip


def save_tiny_kontext(folder: Path) -> Path:
    """A tiny FluxKontextPipeline written with save_pretrained, as real weights would be."""
    from diffusers import FluxKontextPipeline

    FluxKontextPipeline(**tiny_flux_components()).save_pretrained(folder)
    return folder


def save_tiny_text_to_image(folder: Path) -> Path:
    """A tiny FluxPipeline: text-to-image only, so the backend must refuse it."""
    from diffusers import FluxPipeline

    FluxPipeline(**tiny_flux_components()).save_pretrained(folder)
    return folder
