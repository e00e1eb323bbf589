"""Fit an SFI layer's analog filters to an existing digital conv kernel (teacher initialisation).

Minimises ||kernel(fs) - W||^2 / ||W||^2 (relative squared kernel error) with Adam and a cosine
learning-rate decay. A model that ran at fs never saw content above fs/2, so the analog response
above fs/2 (up to the filter bank's band) is pushed towards zero with a small weight: at higher
rates the layer then behaves like the original conv fed a band-limited (resampled) signal.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from sfi_mos.errors import InputError

from . import design as D
from .geometry import check_rate


def fit_to(layer, weight, fs=None, steps: int = 300, lr: float = 3e-3,
           stopband_weight: float = 0.1, n_stop: int = 128) -> dict:
    fs = layer._fs if fs is None else check_rate(fs)
    plan = layer.plan(fs).kernel_plan()  # delta = 0 kernel: kernel(fs)
    device = next(layer.parameters()).device
    target = torch.as_tensor(weight).detach().to(device=device, dtype=torch.float32)
    expected = (layer.out_channels, layer.in_channels, plan.taps)
    if tuple(target.shape) != expected:
        raise InputError("SFIConv1d.fit_to", f"weight shape {tuple(target.shape)} != {expected} "
                         f"(C_out, C_in, K(fs)) at {float(fs):g} Hz")
    if not torch.isfinite(target).all():
        raise InputError("SFIConv1d.fit_to", "weight has non-finite values")
    norm = target.pow(2).sum()
    if float(norm) == 0.0:
        raise InputError("SFIConv1d.fit_to", "weight is all zeros")
    if not isinstance(steps, int) or steps < 0:
        raise InputError("SFIConv1d.fit_to", f"steps must be a non-negative int, got {steps!r}")

    # passband energy of the target (its DTFT on the design grid) sets the stopband's scale
    A = torch.from_numpy(D.ls_matrix(float(fs), plan.lags(plan.deltas[0]), layer.n_freq)).float()
    resp = A.to(device) @ target.reshape(-1, plan.taps).T  # (2M, C)
    pass_energy = resp.pow(2).sum(0).mean() / layer.n_freq
    band = float(getattr(layer.analog, "max_freq_hz", layer.ref_sample_rate * 1.5))
    stop_hz = (torch.from_numpy(np.linspace(float(fs) / 2, band, n_stop + 1)[1:]).float()
               if band > float(fs) / 2 and stopband_weight > 0 else None)
    query_hz, stop_sel = stop_hz, None
    if stop_hz is not None and getattr(layer.analog, "norm", "fixed") == "query":
        # a grid-dependent response (NAF norm="query") has no H(f) of its own: penalise the
        # stopband part of the design grid of the rate whose Nyquist is the band edge
        query_hz = torch.linspace(0.0, band, layer.n_freq)
        stop_sel = query_hz > float(fs) / 2

    def losses():
        w = layer._design(plan)[0]
        rel = (w - target).pow(2).sum() / norm
        stop = torch.zeros((), device=device)
        if stop_hz is not None:
            h = layer.analog_response(query_hz)
            if stop_sel is not None:
                h = h[..., stop_sel.to(h.device)]
            stop = h.abs().pow(2).mean() / pass_energy
        return rel, stop

    was_training = layer.training
    layer.train()
    params = [p for p in layer.analog.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1))))
    with torch.no_grad():
        rel0, _ = losses()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        rel, stop = losses()
        (rel + stopband_weight * stop).backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        rel, stop = losses()
    layer.train(was_training)
    layer.clear_cache()
    return dict(rel_error=math.sqrt(float(rel)), initial_rel_error=math.sqrt(float(rel0)),
                stopband_rel_energy=float(stop), steps=steps, fs=float(fs))
