"""MOSModel: backbone once per utterance, head once per rating (listener grouping)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .backbone import Backbone
from .head import MOSHead


class MOSModel(nn.Module):
    def __init__(self, backbone: Backbone, n_listeners: int, condition_sr: bool | None = None):
        super().__init__()
        if condition_sr is None:
            condition_sr = backbone.kind == "resample_sr"
        self.backbone = backbone
        self.head = MOSHead(backbone.hidden_size, n_listeners, condition_sr=condition_sr)

    def forward(self, wavs: list[torch.Tensor], sample_rate: int, utt_index: torch.Tensor,
                listener_ids: torch.Tensor, exact: bool = False, unmasked: bool = False,
                pad_to: int | None = None) -> torch.Tensor:
        """One normalised score per rating (R,). ``wavs`` are the batch's U utterances at one rate.
        ``unmasked``: padding is signal and the mean runs over every frame (``MOSTrainConfig.pooling``)."""
        feats, frame_lengths = self.backbone(wavs, sample_rate, exact=exact, unmasked=unmasked, pad_to=pad_to)
        return self.head(feats, frame_lengths, utt_index, listener_ids, sample_rate=sample_rate)

    def frame_means(self, wavs: list[torch.Tensor], sample_rate: int,
                    listener_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean frame score before tanh (U, L) per listener, valid frames (U,)): the parts from which
        chunks of one long clip are combined exactly as one clip's frame mean would be."""
        device = wavs[0].device
        n_utt, n_lis = len(wavs), len(listener_ids)
        feats, frames = self.backbone(wavs, sample_rate, exact=True)
        utt_index = torch.arange(n_utt, device=device).repeat_interleave(n_lis)
        lis = torch.as_tensor(list(listener_ids), dtype=torch.long, device=device).repeat(n_utt)
        means = self.head.frame_mean(feats, frames, utt_index, lis, sample_rate=sample_rate)
        return means.view(n_utt, n_lis), frames

    def predict_norm(self, wavs: list[torch.Tensor], sample_rate: int,
                     listener_ids: Sequence[int]) -> torch.Tensor:
        """Per-utterance score averaged over ``listener_ids`` (normalised scale), shape (U,).

        The backbone runs in exact mode so a clip's score never depends on what it is batched with."""
        device = wavs[0].device
        n_utt, n_lis = len(wavs), len(listener_ids)
        utt_index = torch.arange(n_utt, device=device).repeat_interleave(n_lis)
        lis = torch.as_tensor(list(listener_ids), dtype=torch.long, device=device).repeat(n_utt)
        per_rating = self.forward(wavs, sample_rate, utt_index, lis, exact=True)
        return per_rating.view(n_utt, n_lis).mean(1)
