"""What every peer wrapper shares: resampling to its rate with torchaudio, a clear 'not installed'."""
from __future__ import annotations

import numpy as np

PEER_RATE = 16000


class NotInstalled(RuntimeError):
    """The peer's package (or a dependency) cannot be imported; the message says which and how to fix."""


def to_rate(wave: np.ndarray, fs: int, rate: int = PEER_RATE) -> np.ndarray:
    import torch  # lazy: base is imported by sfi_mos.peers, which stays torch-free

    x = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    if int(fs) != rate:
        import torchaudio  # lazy: only when the clip is not at the peer's rate

        x = torchaudio.functional.resample(x, int(fs), rate)
    return x.numpy()


class Peer:
    name = "peer"
    score_names: tuple[str, ...] = ()  # the scores one call returns, e.g. ("DNSMOS-P808", "DNSMOS-OVRL")

    def scores(self, wave: np.ndarray, fs: int) -> dict[str, float]:
        raise NotImplementedError


def missing(name: str, err: Exception) -> NotInstalled:
    return NotInstalled(f"{name} not installed ({type(err).__name__}: {err}); install the extra: "
                        "pip install -e '.[peers]'")
