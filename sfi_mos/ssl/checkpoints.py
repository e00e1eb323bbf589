"""Random-init wav2vec 2.0 / HuBERT / WavLM checkpoints in s3prl's own file formats.

THESE ARE RANDOMLY INITIALISED, NOT PRETRAINED. No model weights can be downloaded here, so tests
and the embedded default configuration build their teachers from these files; they exist so that
s3prl's real loading path (``S3PRLUpstream("<kind>_local", path_or_url=...)``) is the one that runs.
Any number measured with them says nothing about pretrained SSL models. On a cluster, point
``TeacherSpec`` at real checkpoints (``hubert``, ``wav2vec2``, ``wavlm_base_plus`` or a ``*_local`` path).

Formats (read by ``s3prl.upstream.{wav2vec2,hubert}.convert.load_converted_model`` and
``s3prl.upstream.wavlm.expert``; all values plain Python so ``torch.load(weights_only=True)`` works):

* wav2vec2: ``{"task_cfg", "model_cfg", "model_weight"}``
* hubert:   the same plus ``"dictionaries_symbols"``
* wavlm:    ``{"cfg", "model"}``

Sizes: ``tiny`` = 2 transformer layers, hidden 64, 32 conv channels (0.4 MB files, for tests);
``base`` = the real Base architectures the paper's teachers have (``BASE_MODEL_CFG``: 12 layers, 768
hidden, FFN 3072, 12 heads, the 7-layer 512-channel conv stack with one GroupNorm in its first block,
128-tap convolutional position embedding in 16 groups; WavLM adds its gated relative position bias),
with their pre-training heads (quantiser, final projections, HuBERT's 504 label embeddings) so the
files have the real models' tensors and sizes (~360 MB each). Random weights, like ``tiny``.
Both keep the Base conv geometry (K=10, S=5 first conv; 400-sample field, 320-sample hop).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..atomic import torch_save
from . import arch as archmod

SIZES = ("tiny", "base")
TINY = dict(encoder_layers=2, encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_attention_heads=2,
            conv_feature_layers="[(32,10,5)] + [(32,3,2)] * 4 + [(32,2,2)] * 2", final_dim=32,
            conv_pos=16, conv_pos_groups=4, latent_vars=8, latent_groups=2)
WAVLM_EXTRA = dict(relative_position_embedding=True, num_buckets=32, max_distance=128, gru_rel_pos=True)
HUBERT_SYMBOLS = [["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(8)]]

# The Base models' hyper-parameters, written out (not left to s3prl's class defaults) so a checkpoint
# says what it is. Shared by all three: fairseq's Base pre-training configs
# (examples/wav2vec/config/pretraining/wav2vec2_base_librispeech.yaml,
# examples/hubert/config/pretrain/hubert_base_librispeech.yaml) and microsoft/wavlm-base-plus's config.
# feature_grad_mult and encoder_layerdrop are pre-training settings: Teacher/SFIStudent override both.
_BASE_COMMON = dict(
    extractor_mode="default",  # GroupNorm(512, 512) in the first conv block only
    conv_feature_layers="[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2", conv_bias=False,
    encoder_layers=12, encoder_embed_dim=768, encoder_ffn_embed_dim=3072, encoder_attention_heads=12,
    activation_fn="gelu", layer_norm_first=False, conv_pos=128, conv_pos_groups=16,
    dropout=0.1, attention_dropout=0.1, activation_dropout=0.0, encoder_layerdrop=0.05,
    dropout_input=0.1, dropout_features=0.1, feature_grad_mult=0.1)
BASE_MODEL_CFG = {
    "wav2vec2": dict(_BASE_COMMON, quantize_targets=True, final_dim=256, latent_vars=320, latent_groups=2),
    "hubert": dict(_BASE_COMMON, label_rate=50.0, final_dim=256, untie_final_proj=True),
    # microsoft/wavlm-base-plus (WavLM Base has the same architecture): num_buckets 320,
    # max_bucket_distance 800, gated relative position bias
    "wavlm": dict(_BASE_COMMON, relative_position_embedding=True, num_buckets=320,
                  max_distance=800, gru_rel_pos=True, normalize=False),
}
# hubert_base_ls960: 500 k-means units (labels at 50 Hz) plus fairseq's 4 special symbols
HUBERT_BASE_SYMBOLS = [["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(500)]]


def tiny_arch(kind: str, size: str = "tiny") -> dict[str, Any]:
    """The arch dict (see ``arch``) of the random-init model of ``kind`` and ``size``."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; expected one of {SIZES}")
    if size == "base":
        if kind not in BASE_MODEL_CFG:
            raise ValueError(f"unknown model kind {kind!r}; expected one of {archmod.KINDS}")
        cfg = dict(BASE_MODEL_CFG[kind])
        if kind == "wav2vec2":
            return {"kind": kind, "model_cfg": cfg, "task_cfg": {"normalize": False}}
        if kind == "hubert":
            return {"kind": kind, "model_cfg": cfg, "task_cfg": {"label_rate": 50.0, "normalize": False},
                    "dictionaries_symbols": HUBERT_BASE_SYMBOLS}
        return {"kind": kind, "model_cfg": cfg}
    cfg = dict(TINY)
    if kind == "wav2vec2":
        return {"kind": kind, "model_cfg": cfg, "task_cfg": {"normalize": False}}
    if kind == "hubert":
        return {"kind": kind, "model_cfg": {**cfg, "label_rate": 50.0},
                "task_cfg": {"label_rate": 50.0, "normalize": False},
                "dictionaries_symbols": HUBERT_SYMBOLS}
    if kind == "wavlm":
        wcfg = {k: v for k, v in cfg.items() if k not in ("final_dim", "latent_vars", "latent_groups")}
        return {"kind": kind, "model_cfg": {**wcfg, **WAVLM_EXTRA, "normalize": False}}
    raise ValueError(f"unknown model kind {kind!r}; expected one of {archmod.KINDS}")


def checkpoint_dict(model: torch.nn.Module, arch: dict[str, Any]) -> dict[str, Any]:
    """``model``'s weights in s3prl's checkpoint format for ``arch['kind']``."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if arch["kind"] == "wavlm":
        return {"cfg": dict(arch["model_cfg"]), "model": state}
    out = {"task_cfg": dict(arch["task_cfg"]), "model_cfg": dict(arch["model_cfg"]), "model_weight": state}
    if arch["kind"] == "hubert":
        out["dictionaries_symbols"] = [list(d) for d in arch["dictionaries_symbols"]]
    return out


def write_tiny_checkpoints(out_dir: str | Path, size: str = "tiny", seed: int = 0,
                           kinds: tuple[str, ...] = (*archmod.KINDS, "wavlm_base")) -> dict[str, Path]:
    """Write random-init (NOT pretrained) checkpoints of ``kinds`` (default: all three kinds plus a
    second WavLM, "wavlm_base"); returns ``{name: path}``.

    Same ``seed`` -> byte-identical weights. Files are written atomically and only when missing
    (their names carry kind, size and seed), so parallel test sessions can share a directory.
    """
    out_dir = Path(out_dir)
    paths = {}
    # "wavlm_base": a second WavLM, standing in for WavLM Base next to WavLM Base+ (the authors'
    # non-SFI WavLM baseline is not their distillation teacher)
    for i, (name, kind) in enumerate([(k, k) for k in archmod.KINDS] + [("wavlm_base", "wavlm")]):
        if name not in kinds:
            continue
        arch = tiny_arch(kind, size)
        path = out_dir / f"{name}_{size}_random_seed{seed}.pt"
        paths[name] = path
        if path.exists():
            continue
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * 1000 + i)  # the global RNG of the caller is left untouched
            model = archmod.build(arch)
        torch_save(path, checkpoint_dict(model, arch))
    return paths
