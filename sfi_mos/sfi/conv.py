"""``SFIConv1d``: a sampling-frequency-independent 1-D convolution (no bias).

The layer holds C_in·C_out latent analog filters (``analog``) and, for the current rate fs (set by
``set_sample_rate``), designs the digital kernel and applies it on the frame grid of its stride
policy (``geometry`` has the exact conventions). Stride policies, for the hop S_ref·fs/fs_ref that
is fractional at e.g. 8, 22.05, 24 and 44.1 kHz for a 10/5-sample 16 kHz layer:

* ``reference``: the reference code (TomohikoNakamura/sfi_convtasnet, the design the paper's layer
  prints; Kanami-Imamura/Neural_Analog_Filter_speech_separation): K = floor(K_ref·fs/fs_ref) taps
  on TN's integer lag set, integer hop floor(S_ref·fs/fs_ref), padding 0, one plain conv. Its
  frames drift from the reference-rate grid where the hop is fractional; it is what the authors'
  ``FreqRespSampConv1d`` computes, and the baseline ``phase``/``sinc`` are measured against.
* ``round``: ``reference`` with the hop rounded half up instead of truncated.
* ``phase`` (default, ours): the output at a fractional position is exactly the convolution with
  the analog filter designed at that sub-sample offset; a hop p/q needs q kernel phases, each an
  integer-stride-p conv, so the work equals an ideal stride-p/q conv and frames land exactly on
  the reference-rate grid (K = ceil(K_ref·fs/fs_ref), lags fixed in seconds).
* ``sinc`` (ours, after EUSIPCO 2023): stride-1 output interpolated with a Hann-windowed sinc
  (half-length L, cutoff at the input Nyquist by default: the stride-1 output is band-limited to
  it, so this reconstructs it; ``sinc_band="output"`` band-limits to the output frame rate
  instead, an anti-aliased decimation that departs from what a 16 kHz model computes) at the exact
  hop. Folded into q kernels of K + 2L - 1 taps: same frames as ``phase``, about (K + 2L)/K times
  its work; the window truncation costs a little accuracy.

``phase`` is the default because it is the cheapest policy that stays on the reference frame grid:
all phases are one GEMM whose output is already in frame order (the layer is bound by writing
C_out values per frame, not by the q-fold inner dimension); rates with many phases (22.05 / 44.1
kHz: q = 64 / 32) use one conv per phase plus an interleaving write. Its kernels assume filters
representable inside the window, which multi-rate training encourages; ``sinc``'s composite kernel
is longer than the window, which helps where a fixed 16 kHz-only filter must be matched.
``python -m sfi_mos.bench sfi`` measures the cost of every policy against nn.Conv1d and the
cross-rate consistency of each.

Reference settings of the analog filters are typed arguments with the reference value beside
ours: ``naf_norm`` / ``naf_lowpass`` (``analog.NeuralAnalogFilter``) and ``mgf_convention``
(``design.design_time``; requires the ``reference``/``round`` geometry).

Eval mode caches the designed kernels per (rate, policy); the cache key includes every
parameter's (data_ptr, _version), so an optimiser step or load_state_dict invalidates it. Training
mode (or any forward that needs gradients for the filters) always redesigns.
"""
from __future__ import annotations

import contextlib
import functools
import math
from fractions import Fraction

import torch
from torch import nn

from sfi_mos.errors import InputError

from . import design as D
from .analog import FAMILIES, MGF_CONVENTIONS, NAF_LOWPASS, NAF_NORMS, make_filter_bank
from .apply import apply_plan
from .fit import fit_to
from .geometry import POLICIES, Plan, check_rate, make_plan

DEFAULT_POLICY = "phase"
EXPORT_FORMAT = "sfi_mos.sfi.SFIConv1d/1"
DESIGNS = ("freq_ls", "time")


@functools.lru_cache(maxsize=256)
def _plan(fs: Fraction, fs_ref: int, k_ref: int, s_ref: int, policy: str) -> Plan:
    return make_plan(fs, fs_ref, k_ref, s_ref, policy)


class SFIConv1d(nn.Module):
    """Sampling-frequency-independent Conv1d (C_in -> C_out, kernel/stride given at ``ref_sample_rate``)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 512, kernel_size: int = 10,
                 stride: int = 5, ref_sample_rate: int = 16000, filter: str = "naf",
                 design: str = "freq_ls", stride_policy: str = DEFAULT_POLICY, n_freq: int = 640,
                 naf_features: int = 128, naf_hidden=(224, 224), max_freq_hz: float = 24000.0,
                 sinc_half_length: int = 16, sinc_band: str = "input", bias: bool = False,
                 naf_norm: str = "fixed", naf_lowpass: str = "always", mgf_convention: str = "suite"):
        super().__init__()
        # constructor arguments, so ``export``/``from_export`` rebuild the layer without its model
        self.config = dict(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size,
                           stride=stride, ref_sample_rate=ref_sample_rate, filter=filter, design=design,
                           stride_policy=stride_policy, n_freq=n_freq, naf_features=naf_features,
                           naf_hidden=list(naf_hidden), max_freq_hz=float(max_freq_hz),
                           sinc_half_length=sinc_half_length, sinc_band=sinc_band)
        where = "SFIConv1d"
        for name, v in dict(in_channels=in_channels, out_channels=out_channels,
                            kernel_size=kernel_size, stride=stride, n_freq=n_freq,
                            sinc_half_length=sinc_half_length).items():
            if not isinstance(v, int) or v < 1:
                raise InputError(where, f"{name} must be a positive int, got {v!r}")
        if bias:
            raise InputError(where, "bias=True is not supported (the paper's SFI layer has none)")
        if filter not in FAMILIES:
            raise InputError(where, f"filter {filter!r} is not one of {FAMILIES}")
        if design not in DESIGNS:
            raise InputError(where, f"design {design!r} is not one of {DESIGNS}")
        if stride_policy not in POLICIES:
            raise InputError(where, f"stride_policy {stride_policy!r} is not one of {POLICIES}")
        if n_freq < 2 or 2 * n_freq < kernel_size:
            raise InputError(where, f"n_freq={n_freq} too small for kernel_size={kernel_size}")
        if naf_norm not in NAF_NORMS:
            raise InputError(where, f"naf_norm {naf_norm!r} is not one of {NAF_NORMS}")
        if naf_lowpass not in NAF_LOWPASS:
            raise InputError(where, f"naf_lowpass {naf_lowpass!r} is not one of {NAF_LOWPASS}")
        if mgf_convention not in MGF_CONVENTIONS:
            raise InputError(where, f"mgf_convention {mgf_convention!r} is not one of {MGF_CONVENTIONS}")
        if mgf_convention == "reference" and (filter not in ("mgf", "mgf_td")
                                              or stride_policy not in ("reference", "round")):
            raise InputError(where, "mgf_convention='reference' is TN's MGF on TN's geometry: it needs "
                             "filter 'mgf' or 'mgf_td' and stride_policy 'reference' or 'round', got "
                             f"filter={filter!r}, stride_policy={stride_policy!r}")
        check_rate(ref_sample_rate)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.ref_sample_rate = int(ref_sample_rate)
        self.filter_kind = filter
        # the time-domain MGF family is the MGF with impulse-response sampling
        self.design = "time" if filter == "mgf_td" else design
        self.stride_policy = stride_policy
        self.n_freq = n_freq
        self.sinc_half_length = sinc_half_length
        if sinc_band not in ("input", "output"):
            raise InputError(where, f"sinc_band must be 'input' or 'output', got {sinc_band!r}")
        self.sinc_band = sinc_band
        self.mgf_convention = mgf_convention
        self.analog = make_filter_bank(filter, in_channels * out_channels, n_features=naf_features,
                                       hidden=naf_hidden, max_freq_hz=max_freq_hz,
                                       high_hz=self.ref_sample_rate / 2, naf_norm=naf_norm,
                                       naf_lowpass=naf_lowpass, mgf_convention=mgf_convention)
        self._fs = Fraction(self.ref_sample_rate)
        self._cache: dict = {}
        self._shared: dict | None = None  # one_design(): the step's kernels, designed once

    @classmethod
    def from_spec(cls, spec, out_channels: int, kernel_size: int, stride: int,
                  in_channels: int = 1, ref_sample_rate: int = 16000) -> "SFIConv1d":
        """Build from a ``sfi_mos.train.configs.SFISpec``."""
        return cls(in_channels, out_channels, kernel_size, stride, ref_sample_rate,
                   filter=spec.filter, design=spec.design, stride_policy=spec.stride_policy,
                   n_freq=spec.n_freq, naf_features=spec.naf_features,
                   naf_hidden=tuple(spec.naf_hidden), max_freq_hz=spec.max_freq_hz,
                   sinc_band=spec.sinc_band, naf_norm=spec.naf_norm, naf_lowpass=spec.naf_lowpass,
                   mgf_convention=spec.mgf_convention)

    # --- rate and geometry -------------------------------------------------------------------
    @property
    def sample_rate(self):
        fs = self._fs
        return int(fs) if fs.denominator == 1 else float(fs)

    def set_sample_rate(self, fs) -> "SFIConv1d":
        self._fs = check_rate(fs)
        return self

    def plan(self, fs=None, policy: str | None = None) -> Plan:
        fs = self._fs if fs is None else check_rate(fs)
        return _plan(fs, self.ref_sample_rate, self.kernel_size, self.stride,
                     policy or self.stride_policy)

    def output_lengths(self, lengths: torch.Tensor, fs=None) -> torch.Tensor:
        """Frames per input length (the forward's formula). For ``phase``/``sinc`` this is the
        reference-rate count floor((L·fs_ref/fs - K_ref)/S_ref) + 1 (0 if too short)."""
        lengths = torch.as_tensor(lengths)
        return self.plan(fs).frames_tensor(lengths.cpu()).to(lengths.device)

    # --- filters -----------------------------------------------------------------------------
    def _time_origin(self) -> float:
        """Causal families: shift so their support t >= 0 covers the window (TASLP grid)."""
        if not self.analog.causal:
            return 0.0
        return (self.kernel_size - self.kernel_size // 2) / self.ref_sample_rate

    def analog_response(self, freqs_hz) -> torch.Tensor:
        """Complex analog response H(2 pi f) at ``freqs_hz`` -> (C_out, C_in, N)."""
        f = torch.as_tensor(freqs_hz, dtype=torch.float32,
                            device=next(self.parameters()).device).reshape(-1)
        h = self.analog.freq_response(2 * math.pi * f)
        return h.reshape(self.out_channels, self.in_channels, -1)

    def _design(self, plan: Plan) -> torch.Tensor:
        """Designed kernels (n_phases, C_out, C_in, K) of ``plan`` (sinc: the folded kernels)."""
        device = next(self.parameters()).device
        # the design is float32 (complex responses, pseudo-inverses) even inside a bf16 autocast
        with torch.autocast(device.type, enabled=False):
            return self._design_fp32(plan)

    def _design_fp32(self, plan: Plan) -> torch.Tensor:
        base = plan
        if plan.policy == "sinc":  # sinc interpolates the delta = 0 kernel
            base = plan.kernel_plan()
        t0 = self._time_origin()
        if self.design == "freq_ls":
            omega = D.design_omega(plan, self.n_freq, next(self.parameters()).device)
            resp = self.analog.freq_response(omega)
            if t0:
                resp = resp * torch.exp(1j * omega * t0)[None, :]
            h = D.design_freq_ls(resp, base, self.n_freq)
        else:
            h = D.design_time(self.analog, base, t0, self.mgf_convention)
        if plan.policy == "sinc":
            h = D.sinc_phases(h[0], plan, self.sinc_half_length, D.sinc_cutoff(plan, self.sinc_band))
        return h.reshape(h.shape[0], self.out_channels, self.in_channels, h.shape[-1])

    def _version_key(self):
        return tuple((p.data_ptr(), p._version) for p in self.parameters())

    def _kernels(self, plan: Plan) -> torch.Tensor:
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        if self._shared is not None and needs_grad:
            if plan not in self._shared:
                w = self._design(plan)
                self._shared[plan] = (w, w.detach().requires_grad_())
            return self._shared[plan][1]
        if self.training or needs_grad:
            return self._design(plan)
        key = self._version_key()
        hit = self._cache.get(plan)
        if hit is not None and hit[0] == key:
            return hit[1]
        with torch.no_grad():
            w = self._design(plan).contiguous()
        self._cache[plan] = (key, w)
        return w

    def kernel(self, fs=None) -> torch.Tensor:
        """The digital kernel (C_out, C_in, K(fs)) at fs (default: current rate): the delta = 0
        kernel of this layer's geometry (for ``reference``/``round`` the kernel it applies)."""
        return self._kernels(self.plan(fs).kernel_plan())[0]

    def clear_cache(self) -> None:
        self._cache.clear()

    @contextlib.contextmanager
    def one_design(self):
        """Within the block, every forward of a plan uses one designed kernel (the forward and backward
        passes of one step's micro-batches); on leaving it, their summed kernel gradient flows back
        through the design once. So a split step designs once, as the unsplit step does, instead of
        once per piece, and its filter gradients do not pick up a design backward's rounding per piece."""
        self._shared = {}
        try:
            yield self
            pending = [(w, leaf.grad) for w, leaf in self._shared.values() if leaf.grad is not None]
            if pending:
                torch.autograd.backward([w for w, _ in pending], [g for _, g in pending])
        finally:
            self._shared = None

    def _apply(self, fn, *args, **kwargs):  # .to()/.cuda() move parameters: drop stale kernels
        self._cache.clear()
        return super()._apply(fn, *args, **kwargs)

    # --- forward -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise InputError("SFIConv1d.forward",
                             f"expected (B, {self.in_channels}, T), got {tuple(x.shape)}")
        plan = self.plan()
        w = self._kernels(plan)
        if w.dtype != x.dtype:
            w = w.to(x.dtype)
        lead = self.sinc_half_length if plan.policy == "sinc" else 0
        return apply_plan(x, w, plan, plan.frames(x.shape[-1]), lead)

    def fit_to(self, weight: torch.Tensor, fs=None, steps: int = 300, lr: float = 3e-3,
               stopband_weight: float = 0.1) -> dict:
        """Fit the analog filters so the kernel at fs reproduces ``weight``; see ``fit.fit_to``."""
        return fit_to(self, weight, fs, steps=steps, lr=lr, stopband_weight=stopband_weight)

    def export(self) -> dict:
        """Plain dict (``torch.load(weights_only=True)``-safe): constructor arguments and weights."""
        return {"format": EXPORT_FORMAT, "config": dict(self.config),
                "state_dict": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}}

    @classmethod
    def from_export(cls, blob: dict) -> "SFIConv1d":
        if not isinstance(blob, dict) or blob.get("format") != EXPORT_FORMAT:
            raise InputError("SFIConv1d.from_export", f"not an exported SFI layer (expected format {EXPORT_FORMAT!r})")
        cfg = dict(blob["config"])
        cfg["naf_hidden"] = tuple(cfg["naf_hidden"])
        with torch.random.fork_rng(devices=[]):  # rebuilding must not move the caller's RNG
            layer = cls(**cfg)
        layer.load_state_dict(blob["state_dict"])
        return layer

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride} @ {self.ref_sample_rate} Hz, sample_rate={self.sample_rate}, "
                f"filter={self.filter_kind}, design={self.design}, "
                f"stride_policy={self.stride_policy}, n_freq={self.n_freq}"
                + (f", mgf_convention={self.mgf_convention}" if self.mgf_convention != "suite" else ""))


@contextlib.contextmanager
def one_design(module: nn.Module):
    """``SFIConv1d.one_design`` on every SFI layer in ``module`` (a no-op without one)."""
    with contextlib.ExitStack() as stack:
        for m in module.modules():
            if isinstance(m, SFIConv1d):
                stack.enter_context(m.one_design())
        yield module
