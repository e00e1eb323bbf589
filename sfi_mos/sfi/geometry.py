"""Where the frames of an SFI layer sit at sampling rate fs: kernel length, hops, sub-sample phases.

Everything here is exact rational arithmetic on (fs, K_ref, S_ref, fs_ref); no parameters.

The layer is defined at ``fs_ref`` with kernel ``K_ref`` and stride ``S_ref``. At fs the frame window
lasts ``K_eff = K_ref·fs/fs_ref`` samples and frames are ``S_eff = S_ref·fs/fs_ref`` apart. No padding
(the paper's layer prints ``padding=(0,)``): frames whose window does not fit in the input are not
produced; taps outside the signal (the sinc kernels' L-sample context) read zeros.

Two families of policies:

* ``reference`` / ``round`` — the reference code's geometry (TN = TomohikoNakamura/sfi_convtasnet,
  KI = Kanami-Imamura/Neural_Analog_Filter_speech_separation): ``K(fs) = floor(K_eff)`` taps
  (KI ``naf_fb.py`` ``prepare``: ``int(K·fs/fs_tr)``; TN ``model/tasnet.py``
  ``_compute_equivalent_frame_size_and_shift``: ``int(K·(fs/fs_tr))``, the same integer for the
  paper's K = 10, S = 5 at every integer rate), TN's integer lag set (``sfi_conv/fir_design.py``
  ``_FreqRespSampFIRs._compute_pinvW``: odd K lags -P..P with P = (K-1)//2, even K lags
  -(P-1)..P with P = K//2; taps reversed, so weight k sits at lag ``K//2 - k``), one plain conv.
  ``reference`` hops ``floor(S_eff)`` (as K); ``round`` hops round-half-up(S_eff) and is otherwise
  identical. The frame rate drifts from the reference grid where S_eff is fractional.
* ``phase`` / ``sinc`` — ours: frame j covers [j·S_eff, j·S_eff + K_eff) in input samples, i.e.
  exactly the window of frame j of the reference-rate conv. A tap belongs to a frame iff its sample
  lies inside that window, so the kernel has ``K(fs) = ceil(K_eff)`` taps. Frame j's first sample
  is ``a_j = ceil(j·S_eff)`` and the window starts ``delta_j = j·S_eff - a_j`` in (-1, 0] samples
  from it. With S_eff = p/q in lowest terms the pattern repeats every q frames: frame ``m + i·q``
  starts at ``offsets[m] + i·p``, so phase m is an ordinary stride-p convolution. Tap k sits at lag
  ``lag_k = P_ref·fs/fs_ref + delta - k`` samples, P_ref = floor(K_ref/2): the reference rate's tap
  set {P_ref, ..., P_ref-K_ref+1} held at the same time in seconds at every rate. Where fs is an
  integer multiple of fs_ref (16, 48 kHz for a 16 kHz layer) K and the lags of phase 0 coincide
  with ``reference``. Taps whose sample falls outside the window (k >= K_eff + delta) are zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from sfi_mos.errors import InputError

MIN_RATE_HZ = 4000
MAX_RATE_HZ = 192000
POLICIES = ("phase", "sinc", "reference", "round")
# Beyond this many distinct phases (e.g. 11.025 kHz: q = 128) sub-sample offsets are quantised to
# 1/MAX_PHASES sample (timing error <= 1/128 sample) and frames are gathered instead of strided.
MAX_PHASES = 64


def check_rate(fs) -> Fraction:
    """fs as an exact Fraction; ValueError (InputError) naming the allowed range otherwise."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise InputError("sample rate", f"{fs!r} is not a number; allowed range is "
                         f"[{MIN_RATE_HZ}, {MAX_RATE_HZ}] Hz") from None
    if not math.isfinite(value) or not MIN_RATE_HZ <= value <= MAX_RATE_HZ:
        raise InputError("sample rate", f"{fs!r} Hz is outside the allowed range "
                         f"[{MIN_RATE_HZ}, {MAX_RATE_HZ}] Hz")
    # float -> Fraction is exact; limit_denominator keeps e.g. 22050.0 and 11025.5 tidy
    return Fraction(value).limit_denominator(1000)


@dataclass(frozen=True)
class Plan:
    """Frame geometry of one layer at one rate and policy (hashable: it keys the design caches)."""

    fs: Fraction
    fs_ref: int
    k_ref: int
    s_ref: int
    policy: str
    k_eff: Fraction  # window length in samples at fs
    s_eff: Fraction  # exact hop in samples at fs
    taps: int  # K(fs): taps of one designed kernel (before any sinc extension)
    hop: int  # integer stride of one phase (p), or the integer hop of reference/round
    deltas: tuple[Fraction, ...]  # per phase: window start minus first sample, in (-1, 0]
    offsets: tuple[int, ...]  # per phase: first sample of its first frame (periodic plans)
    periodic: bool  # frames of phase m are offsets[m] + i*hop (else: gathered by start())

    @property
    def n_phases(self) -> int:
        return len(self.deltas)

    @property
    def exact_grid(self) -> bool:
        """True for ``phase``/``sinc`` (frames on the reference grid); False for the reference
        code's geometry (``reference``/``round``: integer K, integer lags, one integer hop)."""
        return self.policy in ("phase", "sinc")

    @property
    def lag0(self) -> Fraction:
        """Lag of tap 0 at delta = 0, in samples at fs."""
        if not self.exact_grid:  # TN's set: weight k at lag K//2 - k (fir_design.py _compute_pinvW)
            return Fraction(self.taps // 2)
        return Fraction(self.k_ref // 2) * self.fs / self.fs_ref  # the reference centre in seconds

    def lags(self, delta: Fraction) -> list[float]:
        return [float(self.lag0 + delta - k) for k in range(self.taps)]

    def active(self, delta: Fraction) -> list[bool]:
        if not self.exact_grid:
            return [True] * self.taps
        return [k < self.k_eff + delta for k in range(self.taps)]

    def kernel_plan(self) -> "Plan":
        """The single-phase plan of the delta = 0 kernel: what ``SFIConv1d.kernel`` returns, what
        ``fit_to`` fits and what the sinc policy interpolates (the ``phase`` geometry for
        ``phase``/``sinc``; the plan itself for ``reference``/``round``)."""
        if not self.exact_grid:
            return self
        if self.policy == "phase" and self.n_phases == 1:
            return self
        return Plan(self.fs, self.fs_ref, self.k_ref, self.s_ref, "phase", self.k_eff, self.s_eff,
                    self.taps, self.hop, (Fraction(0),), (0,), True)

    def frames(self, length: int) -> int:
        """Frames for an input of ``length`` samples (same formula as output_lengths)."""
        return int(self.frames_tensor(torch.tensor([int(length)]))[0])

    def frames_tensor(self, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(torch.long)
        if self.exact_grid:
            # floor((L*fs_ref/fs - K_ref)/S_ref) + 1 with fs = a/b, in integers
            a, b = self.fs.numerator, self.fs.denominator
            num = lengths * (self.fs_ref * b) - self.k_ref * a
            n = torch.div(num, self.s_ref * a, rounding_mode="floor") + 1
        else:
            n = torch.div(lengths - self.taps, self.hop, rounding_mode="floor") + 1
        return n.clamp_min(0)

    def start(self, j: torch.Tensor) -> torch.Tensor:
        """First sample of frames j (exact-grid policies): ceil(j*S_eff)."""
        p, q = self.s_eff.numerator, self.s_eff.denominator
        return -torch.div(-j * p, q, rounding_mode="floor")

    def phase_of(self, j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(phase index, first sample) of frames j for non-periodic plans (quantised offsets)."""
        p, q = self.s_eff.numerator, self.s_eff.denominator
        a = self.start(j)
        # delta = j*p/q - a in (-1, 0]; bucket = round(-delta * MAX_PHASES)
        frac = (a * q - j * p)  # = -delta*q in [0, q)
        bucket = torch.div(2 * frac * MAX_PHASES + q, 2 * q, rounding_mode="floor")
        wrap = bucket == MAX_PHASES  # delta ~ -1: same as starting one sample earlier, delta 0
        return torch.where(wrap, 0, bucket), torch.where(wrap, a - 1, a)


def make_plan(fs, fs_ref: int, k_ref: int, s_ref: int, policy: str) -> Plan:
    fs = check_rate(fs)
    if policy not in POLICIES:
        raise InputError("stride_policy", f"{policy!r} is not one of {POLICIES}")
    k_eff = Fraction(k_ref) * fs / fs_ref
    s_eff = Fraction(s_ref) * fs / fs_ref
    if policy in ("reference", "round"):
        # K and hop as in KI naf_fb.py prepare / TN tasnet.py _compute_equivalent_frame_size_and_shift
        taps = max(1, math.floor(k_eff))
        hop = math.floor(s_eff) if policy == "reference" else math.floor(s_eff + Fraction(1, 2))
        return Plan(fs, fs_ref, k_ref, s_ref, policy, k_eff, s_eff, taps, max(1, hop),
                    (Fraction(0),), (0,), True)
    taps = max(1, math.ceil(k_eff))
    p, q = s_eff.numerator, s_eff.denominator
    if q <= MAX_PHASES:
        offsets = tuple(math.ceil(m * s_eff) for m in range(q))
        deltas = tuple(m * s_eff - o for m, o in zip(range(q), offsets))
        return Plan(fs, fs_ref, k_ref, s_ref, policy, k_eff, s_eff, taps, p, deltas, offsets, True)
    deltas = tuple(Fraction(-b, MAX_PHASES) for b in range(MAX_PHASES))
    return Plan(fs, fs_ref, k_ref, s_ref, policy, k_eff, s_eff, taps, p, deltas, (), False)
