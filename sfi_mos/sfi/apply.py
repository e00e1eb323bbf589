"""Apply per-phase digital kernels to a signal on a Plan's frame grid.

Frame j = m + i·q of a periodic plan starts at sample offsets[m] + i·p (minus ``lead`` samples of
left context for the sinc kernels), so phase m is one stride-p conv1d over the input and the
output interleaves the q phase outputs. Non-periodic plans (q > MAX_PHASES) gather the frames'
windows and apply each quantised phase's kernel to its frames.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .geometry import Plan


def apply_plan(x: torch.Tensor, kernels: torch.Tensor, plan: Plan, frames: int,
               lead: int = 0) -> torch.Tensor:
    """x (B, C_in, T), kernels (P, C_out, C_in, K) -> (B, C_out, frames)."""
    n_ph, c_out, _, k = kernels.shape
    B = x.shape[0]
    if frames <= 0:
        return x.new_zeros(B, c_out, 0)
    if not plan.exact_grid:
        return F.conv1d(x, kernels[0], stride=plan.hop)[..., :frames]
    if not plan.periodic:
        return _gather(x, kernels, plan, frames, lead)
    q, p = n_ph, plan.hop
    counts = [max(0, -(-(frames - m) // q)) for m in range(q)]
    need = max(plan.offsets[m] + (counts[m] - 1) * p + k for m in range(q) if counts[m])
    xp = F.pad(x, (lead, max(0, need - lead - x.shape[-1])))
    if q == 1:
        return F.conv1d(xp, kernels[0], stride=p)[..., :frames]
    out = x.new_empty(B, c_out, frames)
    for m in range(q):
        if counts[m]:
            seg = xp[..., plan.offsets[m]: plan.offsets[m] + (counts[m] - 1) * p + k]
            out[..., m::q] = F.conv1d(seg, kernels[m], stride=p)
    return out


def _gather(x, kernels, plan: Plan, frames: int, lead: int) -> torch.Tensor:
    n_ph, c_out, c_in, k = kernels.shape
    j = torch.arange(frames)
    phase, start = plan.phase_of(j)
    pad_left = lead + 1  # quantisation may start a frame one sample early
    start = start + pad_left - lead
    need = int(start.max()) + k
    xp = F.pad(x, (pad_left, max(0, need - pad_left - x.shape[-1])))
    windows = xp.unfold(-1, k, 1)  # (B, C_in, T', K) view
    out = x.new_empty(x.shape[0], c_out, frames)
    for m in torch.unique(phase).tolist():
        sel = (phase == m).nonzero().squeeze(1)
        win = windows[:, :, start[sel].to(x.device)]  # (B, C_in, n, K)
        out[:, :, sel.to(x.device)] = torch.einsum("bink,oik->bon", win, kernels[m])
    return out
