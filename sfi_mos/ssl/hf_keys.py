"""Hugging Face <-> s3prl naming for wav2vec 2.0 / HuBERT / WavLM: tensor keys and config fields.

Our backbones are s3prl's (fairseq-layout) model classes; the authors' released models are HF
``save_pretrained`` directories. The two layouts hold the same tensors under other names (the rename
table of transformers' own ``convert_*_original_pytorch_checkpoint_to_pytorch.py`` scripts, run the
other way), so a key maps one to one. The SFI first conv of the authors' ``SfiHuBERTModel`` is
``feature_extractor.conv_layers.0.conv`` = ``FreqRespSampConv1d`` (printed in msr-utmos
``create_checkpoint_transfer.ipynb``). Its modelling code is remote hub code that is not public; the
tensor names below not shown in that printout are INFERRED from the public reference code:

* ``continuous_filters.RFF_param`` (n_RFFs,): the random Fourier feature frequencies, named as in
  Kanami-Imamura/Neural_Analog_Filter_speech_separation ``naf_fb.py`` ``FDNAFFilterBank`` (whose
  ``implicit_filter`` Sequential, Conv1d/GroupNorm(1, .)/ReLU at indices 0..6, is exactly the
  printed one; cos before sin);
* ``continuous_filters.max_ang_freq`` (scalar buffer, 2π·max_freq): ``FDNAFFilterBank``'s
  normalising buffer; optional on read (absent: ``DEFAULT_MAX_FREQ_HZ``).
"""
from __future__ import annotations

import math
import re
from typing import Any

from ..errors import InputError
from .arch import conv_geometry

SFI_PREFIX = "feature_extractor.conv_layers.0.conv."  # HF name of the first conv module
SFI_FILTERS = SFI_PREFIX + "continuous_filters."
RFF_KEY = SFI_FILTERS + "RFF_param"
MAX_FREQ_KEY = SFI_FILTERS + "max_ang_freq"
DEFAULT_MAX_FREQ_HZ = 24000.0  # ablations.recipe.AUTHORS.max_freq_hz: the Nyquist of 48 kHz distillation data

# s3prl (fairseq) key -> HF key; applied to keys relative to the s3prl model
_RULES = [
    (r"mask_emb", "masked_spec_embed"),
    (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
    (r"post_extract_proj\.(weight|bias)", r"feature_projection.projection.\1"),
    (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)", r"feature_extractor.conv_layers.\1.conv.\2"),
    (r"feature_extractor\.conv_layers\.0\.2\.(weight|bias)", r"feature_extractor.conv_layers.0.layer_norm.\1"),
    (r"feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)", r"feature_extractor.conv_layers.\1.layer_norm.\2"),
    (r"encoder\.pos_conv\.0\.bias", "encoder.pos_conv_embed.conv.bias"),
    (r"encoder\.pos_conv\.0\.weight_g", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"encoder\.pos_conv\.0\.weight_v", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
    (r"encoder\.layers\.(\d+)\.self_attn\.(k_proj|v_proj|q_proj|out_proj)\.(weight|bias)",
     r"encoder.layers.\1.attention.\2.\3"),
    (r"encoder\.layers\.(\d+)\.self_attn\.grep_a", r"encoder.layers.\1.attention.gru_rel_pos_const"),
    (r"encoder\.layers\.(\d+)\.self_attn\.grep_linear\.(weight|bias)", r"encoder.layers.\1.attention.gru_rel_pos_linear.\2"),
    (r"encoder\.layers\.(\d+)\.self_attn\.relative_attention_bias\.weight", r"encoder.layers.\1.attention.rel_attn_embed.weight"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.layer_norm.\2"),
    (r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", r"encoder.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layers.\1.feed_forward.output_dense.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.final_layer_norm.\2"),
    # the SFI first conv (ours: sfi_mos.sfi.SFIConv1d holding analog.NeuralAnalogFilter)
    (r"feature_extractor\.conv_layers\.0\.0\.analog\.rff", RFF_KEY),
    (r"feature_extractor\.conv_layers\.0\.0\.analog\.layers\.(\d)\.(weight|bias)", "implicit:layers"),
    (r"feature_extractor\.conv_layers\.0\.0\.analog\.norms\.(\d)\.(weight|bias)", "implicit:norms"),
]
_COMPILED = [(re.compile(p + r"$"), r) for p, r in _RULES]
# Older HF files keep torch.nn.utils.weight_norm's names for the positional conv
ALIASES = {"encoder.pos_conv_embed.conv.weight_g": "encoder.pos_conv_embed.conv.parametrizations.weight.original0",
           "encoder.pos_conv_embed.conv.weight_v": "encoder.pos_conv_embed.conv.parametrizations.weight.original1"}
# Pre-training heads of s3prl's classes: HF's base model classes (what the authors load) have none,
# and our forward never uses them. Zeroed on import, dropped on export.
PRETRAIN_HEADS = ("final_proj.", "label_embs_concat", "project_q.", "quantizer.", "target_glu.")


def hf_key(ours: str) -> str | None:
    """HF name of an s3prl model key; None for the pre-training heads HF base models lack."""
    if ours.startswith(PRETRAIN_HEADS):
        return None
    for pat, rep in _COMPILED:
        m = pat.match(ours)
        if not m:
            continue
        if rep == "implicit:layers":  # Sequential(Conv, GN, ReLU, Conv, GN, ReLU, Conv): convs at 0, 3, 6
            return f"{SFI_FILTERS}implicit_filter.{3 * int(m.group(1))}.{m.group(2)}"
        if rep == "implicit:norms":  # GroupNorms at 1, 4
            return f"{SFI_FILTERS}implicit_filter.{3 * int(m.group(1)) + 1}.{m.group(2)}"
        return m.expand(rep)
    raise InputError(ours, "no Hugging Face name for this tensor of our model")


# --- configs ------------------------------------------------------------------------------------

def _need(cfg: dict, key: str, where: str, default: Any = None) -> Any:
    if key in cfg:
        return cfg[key]
    if default is not None:
        return default
    raise InputError(where, f"config.json has no {key!r}")


def kind_of_config(cfg: dict, sfi: bool, where: str) -> str:
    """wav2vec2 | hubert | wavlm. Every SFI student is HuBERT-class (the authors' ``SfiHuBERTModel``)."""
    if sfi:
        return "hubert"
    names = [str(cfg.get("model_type", ""))] + [str(a) for a in cfg.get("architectures") or []]
    for kind in ("wavlm", "wav2vec2", "hubert"):
        if any(kind in n.lower().replace("-", "").replace("_", "") for n in names):
            return kind
    raise InputError(where, f"model_type {cfg.get('model_type')!r} is not wav2vec2, hubert or wavlm")


def arch_from_config(cfg: dict, sfi: bool, where: str) -> dict[str, Any]:
    """s3prl arch dict (``sfi_mos.ssl.arch``) of the model an HF config.json describes."""
    kind = kind_of_config(cfg, sfi, where)
    dims, kernels, strides = (list(_need(cfg, k, where)) for k in ("conv_dim", "conv_kernel", "conv_stride"))
    if not len(dims) == len(kernels) == len(strides):
        raise InputError(where, "conv_dim, conv_kernel and conv_stride differ in length")
    checks = {"hidden_act": "gelu", "feat_extract_activation": "gelu", "layer_norm_eps": 1e-5,
              "conv_pos_batch_norm": False, "feat_proj_layer_norm": True}
    for key, want in checks.items():  # what s3prl's classes hard-code
        if key in cfg and cfg[key] != want:
            raise InputError(where, f"{key}={cfg[key]!r} is not supported (s3prl's class has {want!r})")
    norm = _need(cfg, "feat_extract_norm", where, "group")
    if norm not in ("group", "layer"):
        raise InputError(where, f"feat_extract_norm={norm!r}; expected 'group' or 'layer'")
    model_cfg = dict(
        extractor_mode="default" if norm == "group" else "layer_norm",
        conv_feature_layers=repr([(int(d), int(k), int(s)) for d, k, s in zip(dims, kernels, strides)]),
        conv_bias=bool(cfg.get("conv_bias", False)), encoder_layers=int(_need(cfg, "num_hidden_layers", where)),
        encoder_embed_dim=int(_need(cfg, "hidden_size", where)),
        encoder_ffn_embed_dim=int(_need(cfg, "intermediate_size", where)),
        encoder_attention_heads=int(_need(cfg, "num_attention_heads", where)), activation_fn="gelu",
        layer_norm_first=bool(cfg.get("do_stable_layer_norm", False)),
        conv_pos=int(_need(cfg, "num_conv_pos_embeddings", where)),
        conv_pos_groups=int(_need(cfg, "num_conv_pos_embedding_groups", where)),
        dropout=float(cfg.get("hidden_dropout", 0.1)), attention_dropout=float(cfg.get("attention_dropout", 0.1)),
        activation_dropout=float(cfg.get("activation_dropout", 0.0)),
        encoder_layerdrop=float(cfg.get("layerdrop", 0.0)), dropout_input=float(cfg.get("feat_proj_dropout", 0.0)),
        dropout_features=0.0, feature_grad_mult=1.0)
    if kind == "wav2vec2":
        return {"kind": kind, "model_cfg": {**model_cfg, "quantize_targets": False, "final_dim": 256},
                "task_cfg": {"normalize": False}, "normalize": False}
    if kind == "hubert":
        return {"kind": kind, "model_cfg": {**model_cfg, "label_rate": 50.0, "final_dim": 256},
                "task_cfg": {"label_rate": 50.0, "normalize": False},
                "dictionaries_symbols": [["<s>", "<pad>", "</s>", "<unk>"]], "normalize": False}
    return {"kind": kind, "model_cfg": {**model_cfg, "relative_position_embedding": True,
                                        "num_buckets": int(cfg.get("num_buckets", 320)),
                                        "max_distance": int(cfg.get("max_bucket_distance", 800)),
                                        "gru_rel_pos": True, "normalize": False}, "normalize": False}


_MODEL_TYPES = {"wav2vec2": ("wav2vec2", "Wav2Vec2Model"), "hubert": ("hubert", "HubertModel"),
                "wavlm": ("wavlm", "WavLMModel")}


def config_from_arch(arch: dict[str, Any], sfi: dict | None = None) -> dict[str, Any]:
    """HF config.json (the field names transformers' config classes read) for an s3prl arch dict."""
    mc = arch["model_cfg"]
    geo = conv_geometry(arch)
    model_type, cls = _MODEL_TYPES[arch["kind"]]
    cfg = {"model_type": model_type, "architectures": ["SfiHuBERTModel" if sfi else cls],
           "hidden_size": int(mc["encoder_embed_dim"]), "num_hidden_layers": int(mc["encoder_layers"]),
           "num_attention_heads": int(mc["encoder_attention_heads"]),
           "intermediate_size": int(mc["encoder_ffn_embed_dim"]), "hidden_act": "gelu",
           "feat_extract_activation": "gelu", "layer_norm_eps": 1e-5,
           "feat_extract_norm": "group" if mc.get("extractor_mode", "default") == "default" else "layer",
           "conv_dim": [c for c, _, _ in geo], "conv_kernel": [k for _, k, _ in geo],
           "conv_stride": [s for _, _, s in geo], "num_feat_extract_layers": len(geo),
           "conv_bias": bool(mc.get("conv_bias", False)), "do_stable_layer_norm": bool(mc.get("layer_norm_first", False)),
           "num_conv_pos_embeddings": int(mc.get("conv_pos", 128)),
           "num_conv_pos_embedding_groups": int(mc.get("conv_pos_groups", 16)),
           "hidden_dropout": float(mc.get("dropout", 0.1)), "attention_dropout": float(mc.get("attention_dropout", 0.1)),
           "activation_dropout": float(mc.get("activation_dropout", 0.0)),
           "feat_proj_dropout": float(mc.get("dropout_input", 0.0)), "layerdrop": float(mc.get("encoder_layerdrop", 0.0))}
    if arch["kind"] == "hubert":
        cfg["feat_proj_layer_norm"] = True
    if arch["kind"] == "wavlm":
        cfg.update(num_buckets=int(mc.get("num_buckets", 320)), max_bucket_distance=int(mc.get("max_distance", 800)))
    if sfi:  # ours, for our reader; the authors' remote config fields are not known
        cfg["sfi_mos_sfi"] = dict(sfi)
    return cfg


def authors_sfi_spec(naf_features: int, naf_hidden: tuple[int, ...], max_ang_freq: float | None,
                     n_freq: int = 640) -> dict[str, Any]:
    """SFISpec (as a dict) of the authors' ``FreqRespSampConv1d``: TN's frequency-sampling design and
    geometry (``stride_policy="reference"``: floor K and hop, padding 0 as printed), KI's FD-NAF
    (GroupNorm statistics over the queried grid, low-pass in eval mode only)."""
    max_freq = DEFAULT_MAX_FREQ_HZ if max_ang_freq is None else float(max_ang_freq) / (2 * math.pi)
    return dict(filter="naf", design="freq_ls", stride_policy="reference", n_freq=int(n_freq),
                naf_features=int(naf_features), naf_hidden=tuple(int(h) for h in naf_hidden),
                max_freq_hz=max_freq, sinc_band="input", naf_norm="query", naf_lowpass="eval",
                mgf_convention="suite")
