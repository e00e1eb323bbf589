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

# inner GEMM dimension (phases x C_in x taps) up to which the single-GEMM path is used
MATMUL_MAX_INNER = 128


def apply_plan(x: torch.Tensor, kernels: torch.Tensor, plan: Plan, frames: int,
               lead: int = 0) -> torch.Tensor:
    """x (B, C_in, T), kernels (P, C_out, C_in, K) -> (B, C_out, frames)."""
    n_ph, c_out, _, k = kernels.shape
    B = x.shape[0]
    if frames <= 0:
        return x.new_zeros(B, c_out, 0)
    if not plan.periodic:
        return _gather(x, kernels, plan, frames, lead)
    q, p = n_ph, plan.hop
    counts = [max(0, -(-(frames - m) // q)) for m in range(q)]
    need = max(plan.offsets[m] + (counts[m] - 1) * p + k for m in range(q) if counts[m])
    xp = F.pad(x, (lead, max(0, need - lead - x.shape[-1])))
    if q * kernels.shape[2] * k <= MATMUL_MAX_INNER:
        return _matmul(xp, kernels, plan, counts, frames)
    if q == 1:
        return F.conv1d(xp, kernels[0], stride=p)[..., :frames]
    # many phases: one strided conv per phase written into its interleaved slots
    out = x.new_empty(B, c_out, frames)
    for m in range(q):
        if counts[m]:
            seg = xp[..., plan.offsets[m]: plan.offsets[m] + (counts[m] - 1) * p + k]
            out[..., m::q] = F.conv1d(seg, kernels[m], stride=p)
    return out


def _matmul(xp, kernels, plan: Plan, counts, frames: int) -> torch.Tensor:
    """All phases in one GEMM whose output is already interleaved (no extra pass over it).

    Frame j = i·q + m reads the column (m, C_in, K) of a block matrix that is zero outside phase
    m's block, so W~ (C_out, q·C_in·K) @ X~ (B, q·C_in·K, frames) gives (B, C_out, frames) in
    frame order. The output is what costs (C_out = 512 values per frame; the layer is memory
    bound), so the q-fold inner dimension is nearly free while a phase-by-phase conv followed by
    interleaving would write the output twice. On CPU this also beats nn.Conv1d for C_in = 1.
    """
    q, c_out, c_in, k = kernels.shape
    p = plan.hop
    B = xp.shape[0]
    cols = xp.new_zeros(B, frames, q, c_in, k)
    for m in range(q):
        if counts[m]:
            win = xp[..., plan.offsets[m]:].unfold(-1, k, p)[:, :, : counts[m]]  # (B, C_in, n, K)
            cols[:, m::q, m] = win.transpose(1, 2)
    w = kernels.permute(1, 0, 2, 3).reshape(c_out, q * c_in * k)
    return torch.matmul(w, cols.reshape(B, frames, q * c_in * k).transpose(1, 2))


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
