"""Tiny stand-ins for the authors' released files, built with ``transformers`` (nothing downloaded).

* ``tiny_hf(kind)``: a random HF HubertModel / Wav2Vec2Model / WavLMModel with a tiny config.
* ``RefSFIConv``: an independent implementation of the authors' SFI first conv as the public
  reference code defines it (TN ``_FreqRespSampFIRs``: M-point grid ``linspace(0, π·fs, M)``, lags
  -(P-1)..P for even K, pinv of [cos; sin], reversed taps; KI ``FDNAFFilterBank``: ``RFF_param``,
  cos then sin, ``implicit_filter`` on the queried grid, low-pass in eval mode; K and hop floored as
  KI's ``prepare``). ``sfi_hubert()`` puts it where ``SfiHuBERTModel`` has it, so ``save_pretrained``
  writes the printed key layout.
* ``authors_ckpt``: a Lightning-format ``torch.save`` dict of ``SSLMOSLightningModule``.
* ``authors_forward``: the authors' forward (ssl_mos.py + demo.py) on one clip, from the HF model.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torchaudio
import transformers
from torch import nn
from torch.nn import functional as F

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=[16] * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
CLASSES = {"hubert": (transformers.HubertModel, transformers.HubertConfig),
           "wav2vec2": (transformers.Wav2Vec2Model, transformers.Wav2Vec2Config),
           "wavlm": (transformers.WavLMModel, transformers.WavLMConfig)}
SR2ID = {16000: 0, 24000: 1, 48000: 2}


def tiny_hf(kind: str, seed: int = 0) -> nn.Module:
    cls, cfg_cls = CLASSES[kind]
    torch.manual_seed(seed)
    model = cls(cfg_cls(**TINY, num_buckets=32) if kind == "wavlm" else cfg_cls(**TINY))
    with torch.no_grad():  # HF inits some tensors to constants; random values make the mapping checks bite
        for name, p in model.named_parameters():
            if "layer_norm" in name or name.endswith("gru_rel_pos_const"):
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


class RFFFilters(nn.Module):
    def __init__(self, n_filters: int, n_rff: int = 8, hidden=(12, 12), max_freq_hz: float = 24000.0):
        super().__init__()
        self.register_buffer("max_ang_freq", torch.tensor(max_freq_hz * 2 * math.pi))
        widths = [2 * n_rff, *hidden, 2 * n_filters]
        layers = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Conv1d(a, b, 1))
            if i < len(widths) - 2:
                layers += [nn.GroupNorm(1, b), nn.ReLU(inplace=True)]
        self.implicit_filter = nn.Sequential(*layers)
        self.RFF_param = nn.Parameter(torch.randn(n_rff) * 2 * math.pi * 10)
        self.n_filters = n_filters

    def get_frequency_responses(self, omega):
        x = omega / self.max_ang_freq
        arg = self.RFF_param[:, None] @ x[None, :]
        resp = self.implicit_filter(torch.cat([arg.cos(), arg.sin()])[None])
        if not self.training and x.max() > 1.0:
            resp = resp * (x <= 1.0).float()[None, None, :]
        return resp[0, :self.n_filters], resp[0, self.n_filters:]


class RefSFIConv(nn.Module):
    def __init__(self, out_channels: int, kernel: int = 10, stride: int = 5, n_samples: int = 640):
        super().__init__()
        self.continuous_filters = RFFFilters(out_channels)
        self.out_channels, self.k_ref, self.s_ref, self.n_samples = out_channels, kernel, stride, n_samples
        self.set_sample_rate(16000)

    def set_sample_rate(self, fs: int):
        self.fs = fs
        self.kernel = int(self.k_ref * fs / 16000)
        self.stride = int(self.s_ref * fs / 16000)

    def weights(self):
        k, fs = self.kernel, self.fs
        p = (k - 1) // 2 if k % 2 else k // 2
        lags = torch.arange(-p, p + 1) if k % 2 else torch.arange(-(p - 1), p + 1)
        omega = torch.linspace(0, fs / 2 * 2 * math.pi, self.n_samples)
        arg = -(omega / fs)[:, None] * lags[None, :].float()
        pinv = torch.linalg.pinv(torch.cat([arg.cos(), arg.sin()]))
        re, im = self.continuous_filters.get_frequency_responses(omega)
        taps = (pinv[None] @ torch.cat([re, im], 1)[:, :, None])[:, :, 0]
        return taps[:, torch.arange(k - 1, -1, -1)].reshape(self.out_channels, 1, k)

    def forward(self, x):
        return F.conv1d(x, self.weights(), stride=self.stride)


def sfi_hubert(seed: int = 0) -> nn.Module:
    model = tiny_hf("hubert", seed)
    torch.manual_seed(seed + 1)
    conv = RefSFIConv(TINY["conv_dim"][0])
    model.feature_extractor.conv_layers[0].conv = conv
    model.set_sample_rate = conv.set_sample_rate
    model.config.architectures = ["SfiHuBERTModel"]
    return model.eval()


def save_hf(model: nn.Module, path: Path) -> Path:
    model.save_pretrained(path)
    return path


def head_tensors(hidden: int, condition_sr: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {"pred_liner.0.weight": torch.randn(hidden, hidden, generator=g) / hidden ** 0.5,
           "pred_liner.0.bias": 0.1 * torch.randn(hidden, generator=g),
           "pred_liner.2.weight": torch.randn(1, hidden, generator=g) / hidden ** 0.5,
           "pred_liner.2.bias": 0.1 * torch.randn(1, generator=g),
           "listenr_embedding.weight": torch.randn(1000, hidden, generator=g)}
    if condition_sr:
        out["sr_embedding.weight"] = torch.randn(3, hidden, generator=g)
    return out


def authors_ckpt(path: Path, hf_model: nn.Module, condition_sr: bool, ssl_model_path: str,
                 head: dict | None = None, **extra_state) -> Path:
    """What Lightning's ModelCheckpoint writes for SSLMOSLightningModule (the keys load_from_checkpoint
    reads, plus the training state it carries)."""
    head = head or head_tensors(hf_model.config.hidden_size, condition_sr)
    state = {f"ssl_model.{k}": v.clone() for k, v in hf_model.state_dict().items()}
    state.update(head)
    state.update(extra_state)
    blob = {"epoch": 7, "global_step": 1234, "pytorch-lightning_version": "2.5.1.post0", "state_dict": state,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 8, "completed": 7}}}},
            "callbacks": {"ModelCheckpoint{'monitor': 'val/loss', 'mode': 'min'}": {
                "best_model_score": torch.tensor(0.12), "best_model_path": "/groups/x/epoch=07.ckpt"}},
            "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]}],
            "lr_schedulers": [], "hparams_name": "kwargs",
            "hyper_parameters": {"ssl_model_path": ssl_model_path, "pretrained_model_path": "/groups/gag/never/here.ckpt",
                                 "processor_path": "facebook/wav2vec2-base", "condition_sr": condition_sr}}
    torch.save(blob, path)
    return path


@torch.no_grad()
def authors_forward(hf_model: nn.Module, head: dict, wav: np.ndarray, sr: int, listeners, sfi: bool,
                    condition_sr: bool) -> float:
    """MOS of one clip by the authors' procedure: demo.py's loop over listeners, ssl_mos.py's forward."""
    x = torch.from_numpy(np.asarray(wav, dtype=np.float32))
    if sfi:
        hf_model.set_sample_rate(sr)
        inp = x[None]
    else:
        x = torchaudio.functional.resample(x, sr, 16000)
        proc = transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
        inp = proc([x.numpy()], sampling_rate=16000, return_tensors="pt", padding=True).input_values
    hidden = hf_model(input_values=inp).last_hidden_state.double()
    if condition_sr:
        hidden = hidden + head["sr_embedding.weight"][SR2ID[sr]].double()
    outs = []
    for lis in listeners:
        h = hidden + head["listenr_embedding.weight"][lis].double()
        h = F.silu(h @ head["pred_liner.0.weight"].double().T + head["pred_liner.0.bias"].double())
        y = h @ head["pred_liner.2.weight"].double().T + head["pred_liner.2.bias"].double()
        outs.append(torch.tanh(y.mean(dim=1)).item())
    return 2 * float(np.mean(outs)) + 3
