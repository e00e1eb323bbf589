"""Training-time regularisation of an s3prl wav2vec2/HuBERT/WavLM model, as Hugging Face models apply it.

The authors train every SSL model through ``transformers.AutoModel(...).train()``
(``sarulab-speech/msr-utmos`` ``src/sfi_utmos/model/ssl_mos.py`` l.34-36, ``model/distill_ssl.py``
l.43), so in training mode each model runs with its Hugging Face config's dropouts, LayerDrop and
SpecAugment time masking. The suite's own choice (``none``) trains deterministically without any.

The s3prl classes hold the same modules under fairseq names; ``apply`` maps HF's fields onto them:

==================== ============================================ ===============================
HF config field      HF module                                    s3prl (fairseq) module
==================== ============================================ ===============================
feat_proj_dropout    feature_projection.dropout                   model.dropout_input
hidden_dropout       encoder.dropout, layer.dropout, output_dropout encoder.dropout, dropout1, dropout3
activation_dropout   feed_forward.intermediate_dropout            layer.dropout2
attention_dropout    attention dropout                            self_attn.dropout_module
layerdrop            encoder.config.layerdrop                     ``encode.encode`` (forward hooks)
mask_time_*          _mask_hidden_states / masked_spec_embed      ``time_mask`` / model.mask_emb
==================== ============================================ ===============================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

MODES = ("hf", "none")


@dataclass(frozen=True)
class Regularisation:
    feat_proj_dropout: float = 0.0
    hidden_dropout: float = 0.0
    activation_dropout: float = 0.0
    attention_dropout: float = 0.0
    layerdrop: float = 0.0
    mask_time_prob: float = 0.0
    mask_time_length: int = 10
    mask_time_min_masks: int = 0
    # the first encoder layer LayerDrop may skip: HF's WavLMEncoder never skips layer 0 (it carries the
    # relative position bias every later layer reuses), wav2vec2 and HuBERT may skip any layer
    layerdrop_first: int = 0
    source: str = ""


NONE = Regularisation(source="suite: no dropout, LayerDrop or time masking in training")

# transformers 5.24 ``HubertConfig``/``Wav2Vec2Config``/``WavLMConfig`` class defaults (identical for the
# three): attention 0.1, layerdrop 0.1, SpecAugment time masks p=0.05 of length 10, at least 2.
_CLASS = dict(attention_dropout=0.1, layerdrop=0.1, mask_time_prob=0.05, mask_time_length=10,
              mask_time_min_masks=2)
HF = {
    # printed module tree of facebook/wav2vec2-base: feature_projection Dropout(0.1), encoder/layer
    # Dropout(0.1), intermediate_dropout 0.0 (msr-utmos create_checkpoint_transfer.ipynb, cell 3 output);
    # the other fields are not printed: transformers class defaults
    "wav2vec2": Regularisation(feat_proj_dropout=0.1, hidden_dropout=0.1, activation_dropout=0.0, **_CLASS,
                               source="facebook/wav2vec2-base (printed dropouts; attention, LayerDrop and "
                                      "masking: transformers class defaults)"),
    # Wataru/sfi_hubert, the authors' SFI student for every teacher: feature_projection Dropout(0.0),
    # encoder/layer Dropout(0.1), intermediate_dropout 0.1 (create_checkpoint_transfer.ipynb, cell 6 output)
    "sfi_hubert": Regularisation(feat_proj_dropout=0.0, hidden_dropout=0.1, activation_dropout=0.1, **_CLASS,
                                 source="Wataru/sfi_hubert (printed dropouts; attention, LayerDrop and "
                                        "masking: transformers class defaults)"),
    # facebook/hubert-base-ls960 and microsoft/wavlm-base: their hub config.json cannot be read here;
    # transformers class defaults (hidden 0.1, activation 0.1, feature projection 0.0)
    "hubert": Regularisation(feat_proj_dropout=0.0, hidden_dropout=0.1, activation_dropout=0.1, **_CLASS,
                             source="facebook/hubert-base-ls960 (hub config not retrievable: transformers "
                                    "HubertConfig defaults)"),
    # transformers 5.25 models/wavlm/modeling_wavlm.py l.417 (WavLMEncoder) and l.469
    # (WavLMEncoderStableLayerNorm): ``if self.training and i > 0 and self.config.layerdrop > 0.0``;
    # wav2vec2 (l.689/737) and HuBERT (l.445/557) test ``self.training and self.config.layerdrop > 0.0``
    "wavlm": Regularisation(feat_proj_dropout=0.0, hidden_dropout=0.1, activation_dropout=0.1, **_CLASS,
                            layerdrop_first=1,
                            source="microsoft/wavlm-base(-plus) (hub config not retrievable: transformers "
                                   "WavLMConfig defaults)"),
}


def for_model(mode: str, family: str) -> Regularisation:
    """The regularisation of ``mode`` ("hf" | "none") for a model family (wav2vec2|hubert|wavlm|sfi_hubert)."""
    if mode not in MODES:
        raise ValueError(f"ssl_train must be one of {MODES}, got {mode!r}")
    if mode == "none":
        return NONE
    if family not in HF:
        raise ValueError(f"no Hugging Face regularisation known for model family {family!r}")
    return HF[family]


def layer_skips(n_layers: int, reg: "Regularisation | None", training: bool) -> list[bool]:
    """Which of ``n_layers`` encoder layers LayerDrop skips in this forward pass (HF semantics): in
    training, each layer from ``reg.layerdrop_first`` on with probability ``reg.layerdrop``, one
    ``torch.rand([])`` draw per such layer, as HF draws them (torch RNG)."""
    p = reg.layerdrop if reg is not None and training else 0.0
    if p <= 0:
        return [False] * n_layers
    first = min(reg.layerdrop_first, n_layers)
    return [False] * first + [bool(torch.rand([]) < p) for _ in range(n_layers - first)]


def apply(model: nn.Module, reg: Regularisation) -> None:
    """Set every dropout probability and the LayerDrop rate of an s3prl model (in place)."""
    model.dropout_input.p = reg.feat_proj_dropout
    enc = model.encoder
    enc.dropout = reg.hidden_dropout  # a float that extract_features passes to F.dropout
    enc.layerdrop = 0.0  # encode.encode applies reg.layerdrop itself (HF semantics, torch RNG)
    for layer in enc.layers:
        layer.dropout1.p = reg.hidden_dropout
        layer.dropout3.p = reg.hidden_dropout
        layer.dropout2.p = reg.activation_dropout
        layer.self_attn.dropout_module.p = reg.attention_dropout
        if hasattr(layer.self_attn, "dropout"):  # fairseq keeps a float copy for the fused kernel path
            layer.self_attn.dropout = reg.attention_dropout


def time_mask(frames: torch.Tensor, n: int, reg: Regularisation) -> torch.Tensor | None:
    """SpecAugment time mask (B, n) bool in HF's ``_compute_mask_indices`` sense, or None.

    Per clip of L valid frames: max(min_masks, int(p·L/len + u)) spans of ``len`` frames (u ~ U[0, 1)
    drawn once per batch), clamped to what fits, starts drawn without replacement; spans may overlap.
    Uses numpy's global RNG (as HF does), which the stages seed and checkpoint.
    """
    if reg.mask_time_prob <= 0:
        return None
    span = int(reg.mask_time_length)
    u = np.random.rand()
    mask = np.zeros((len(frames), n), dtype=bool)
    for b, length in enumerate(frames.tolist()):
        length = min(int(length), n)
        count = max(int(reg.mask_time_prob * length / span + u), reg.mask_time_min_masks)
        count = min(count, n // span, max(length - (span - 1), 0))
        if count <= 0:
            continue
        starts = np.random.choice(length - (span - 1), count, replace=False)
        for s in starts:
            mask[b, s:s + span] = True
    return torch.from_numpy(mask).to(frames.device)
