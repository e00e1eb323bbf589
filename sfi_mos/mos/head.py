"""The MSR-UTMOS MOS head: listener (and optional sampling-rate) embedding + frame MLP + masked mean + tanh.

The listener embedding enters *after* the backbone, so one backbone forward per utterance serves all of
its ratings: the head gathers the utterance's frames once per rating (``utt_index``) and adds that
rating's listener vector. Targets live on the normalised scale y = (MOS - 3) / 2 in (-1, 1).
"""
from __future__ import annotations

import torch
from torch import nn

# The paper's SR embedding knows 16/24/48 kHz; any other rate maps to the nearest known one.
SR_TABLE = (16000, 24000, 48000)


def to_norm(mos):
    return (mos - 3.0) / 2.0


def to_mos(y):
    return 3.0 + 2.0 * y


def sr_index(sample_rate: int) -> int:
    return min(range(len(SR_TABLE)), key=lambda i: abs(SR_TABLE[i] - sample_rate))


def frame_mask(frame_lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
    """(B, F) float mask, 1 on valid frames."""
    steps = torch.arange(n_frames, device=frame_lengths.device)
    return (steps[None, :] < frame_lengths[:, None]).to(torch.float32)


class MOSHead(nn.Module):
    def __init__(self, hidden: int, n_listeners: int, condition_sr: bool = False):
        super().__init__()
        self.listener = nn.Embedding(n_listeners, hidden)
        self.sr = nn.Embedding(len(SR_TABLE), hidden) if condition_sr else None
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    @property
    def n_listeners(self) -> int:
        return self.listener.num_embeddings

    def forward(self, feats: torch.Tensor, frame_lengths: torch.Tensor, utt_index: torch.Tensor,
                listener_ids: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """feats (U, F, H) once per utterance; one output per rating (R,), normalised scale.

        ``utt_index[r]`` is the utterance of rating r, ``listener_ids[r]`` its listener.
        """
        return torch.tanh(self.frame_mean(feats, frame_lengths, utt_index, listener_ids, sample_rate))

    def frame_mean(self, feats: torch.Tensor, frame_lengths: torch.Tensor, utt_index: torch.Tensor,
                   listener_ids: torch.Tensor, sample_rate: int | None = None) -> torch.Tensor:
        """The masked mean frame score per rating (R,) before tanh."""
        x = feats[utt_index] + self.listener(listener_ids)[:, None, :]
        if self.sr is not None:
            if sample_rate is None:
                raise ValueError("this head is conditioned on the sampling rate; pass sample_rate")
            idx = torch.tensor(sr_index(sample_rate), device=feats.device)
            x = x + self.sr(idx)[None, None, :]
        frame_scores = self.mlp(x).squeeze(-1).float()  # (R, F)
        lengths = frame_lengths[utt_index]
        mask = frame_mask(lengths, frame_scores.shape[1])
        # padded frames are excluded from the mean, so batch composition cannot change a prediction
        return (frame_scores * mask).sum(1) / lengths.clamp(min=1).to(frame_scores.dtype)
