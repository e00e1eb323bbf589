"""Twin predictions of a fold ensemble, with the backbone's pooled features, and the 16 kHz identity.

``ensemble`` gives exactly what ``sfi_mos.predict.Predictor`` gives (fold models' normalised scores
averaged over their training listeners, then over folds, then mapped to 1-5), plus each model's
pooled backbone features (mean over valid frames of the features the head reads), so the feature
distance of a pair is measured on the same forward pass as its prediction.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torchaudio

from ..mos.head import frame_mask, to_mos
from ..resume import Memo, no_store
from .data import ProbeSet

MODEL_RATE = 16000


@torch.no_grad()
def ensemble(models: Sequence[tuple[torch.nn.Module, Sequence[int]]], waves: Sequence[np.ndarray],
             rates: Sequence[int], batch_size: int = 4, memo: Memo = no_store) -> tuple[np.ndarray, list[np.ndarray]]:
    """(MOS per clip, [pooled features (n_clips, H) per model]) for (MOSModel, listeners) pairs.
    ``memo`` (``sfi_mos.resume``) keeps each (model, batch) result, so a killed probe run resumes."""
    n = len(waves)
    norm = np.zeros(n)
    pooled = []
    order = sorted(range(n), key=lambda i: (int(rates[i]), len(waves[i]), i))
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) == batch_size or int(rates[cur[0]]) != int(rates[i])):
            batches.append(cur)
            cur = []
        cur.append(i)
    batches += [cur] if cur else []
    for m, (model, listeners) in enumerate(models):
        feats_out = None
        for j, idx in enumerate(batches):
            item = memo(f"model{m:02d}-batch{j:06d}-of-{len(batches)}",
                        lambda model=model, listeners=listeners, idx=idx: _batch(model, listeners, waves, rates, idx))
            norm[idx] += np.asarray(item["norm"], dtype=np.float64)
            if feats_out is None:
                feats_out = np.zeros((n, len(item["feats"][0])), dtype=np.float64)
            feats_out[idx] = np.asarray(item["feats"], dtype=np.float64)
        pooled.append(feats_out)
    return to_mos(torch.from_numpy(norm / len(models))).numpy(), pooled


def _batch(model, listeners, waves, rates, idx) -> dict:
    """One model on one batch of clips of one rate: normalised scores and pooled features (as lists)."""
    device = next(model.parameters()).device
    sr = int(rates[idx[0]])
    wavs = [torch.as_tensor(np.asarray(waves[i], dtype=np.float32), device=device) for i in idx]
    feats, lengths = model.backbone(wavs, sr, exact=True)
    n_lis = len(listeners)
    utt_index = torch.arange(len(idx), device=device).repeat_interleave(n_lis)
    lis = torch.as_tensor(list(listeners), dtype=torch.long, device=device).repeat(len(idx))
    scores = model.head(feats, lengths, utt_index, lis, sample_rate=sr).view(len(idx), n_lis).mean(1)
    mask = frame_mask(lengths, feats.shape[1])[:, :, None]
    mean = (feats.float() * mask).sum(1) / lengths.clamp(min=1)[:, None].float()
    return {"norm": scores.double().cpu().tolist(), "feats": mean.double().cpu().tolist()}


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise 1 - cos(a, b); 0 for two all-zero rows."""
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.where(den > 0, num / den, 1.0)
    return 1.0 - np.clip(cos, -1.0, 1.0)


def resampled_residual_db(clean: np.ndarray, degraded: np.ndarray, fs: int) -> float:
    """How different two twins still are after the ``resample`` backbone's own resampling to 16 kHz
    (torchaudio, default filter, one clip at a time): 10 log10(|R(d) - R(c)|^2 / |R(c)|^2)."""
    r = [torchaudio.functional.resample(torch.as_tensor(np.asarray(x, dtype=np.float32)), int(fs), MODEL_RATE)
         for x in (clean, degraded)]
    diff = float(((r[1].double() - r[0].double()) ** 2).sum())
    ref = float((r[0].double() ** 2).sum())
    return float("-inf") if diff == 0 else 10 * np.log10(diff / max(ref, 1e-30))


def predict_pairs(models, probe: ProbeSet, batch_size: int = 4, memo: Memo = no_store) -> pd.DataFrame:
    """One row per pair: predictions of both twins, delta inputs, feature distance, 16 kHz identity."""
    names = sorted(probe.clips)
    pos = {u: i for i, u in enumerate(names)}
    waves = [probe.clips[u][0] for u in names]
    rates = [probe.clips[u][1] for u in names]
    preds, pooled = ensemble(models, waves, rates, batch_size, memo)
    p = probe.pairs
    a = np.array([pos[u] for u in p["clean"]])
    b = np.array([pos[u] for u in p["degraded"]])
    dist = np.mean([cosine_distance(f[a], f[b]) for f in pooled], axis=0)
    ident = [resampled_residual_db(probe.clips[c][0], probe.clips[d][0], fs)
             for c, d, fs in zip(p["clean"], p["degraded"], p["sample_rate"])]
    out = p.assign(pred_clean=preds[a], pred_degraded=preds[b], feature_distance=dist, resampled_residual_db=ident)
    return out
