"""Activation memory, counted exactly: the bytes of the tensors autograd saves for backward.

Unlike RSS or the CUDA allocator's figures it does not depend on the allocator, the machine's load or
what ran before: the same shapes give the same bytes. The rehearsal (``replication.measure``) and the
benchmarks (``sfi_mos.bench.step``) count with it.
"""
from __future__ import annotations

from typing import Any


class _Saved:
    """What autograd stores instead of a saved tensor while counted; releasing it uncounts the tensor."""

    __slots__ = ("tensor", "_owner", "_key")

    def __init__(self, owner: "SavedBytes", tensor: Any, key: int, nbytes: int) -> None:
        self.tensor, self._owner, self._key = tensor, owner, key
        owner._add(key, nbytes)

    def __del__(self) -> None:  # the graph freed it (after backward, or when the graph is dropped)
        self._owner._drop(self._key)


class SavedBytes:
    """Live and peak bytes of the tensors autograd saves for backward: the training step's activations.

    Counted once per storage (views of one buffer share it); parameters and their views are not
    activations and are skipped. Installed as default ``saved_tensors_hooks`` of the calling thread, the
    one that runs the stage's forward passes.
    """

    def __init__(self, torch: Any) -> None:
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._live: dict[int, list[int]] = {}  # storage pointer -> [bytes, saved references]
        self.now = self.peak = 0

    def _pack(self, t: Any) -> Any:
        base = t if t._base is None else t._base
        if base.is_leaf and base.requires_grad:  # a parameter (or a view of one)
            return t
        st = t.untyped_storage()
        return _Saved(self, t, st.data_ptr(), st.nbytes())

    @staticmethod
    def _unpack(x: Any) -> Any:
        return x.tensor if isinstance(x, _Saved) else x

    def _add(self, key: int, nbytes: int) -> None:
        rec = self._live.get(key)
        if rec is None:
            self._live[key] = [nbytes, 1]
            self.now += nbytes
            self.peak = max(self.peak, self.now)
        else:
            rec[1] += 1

    def _drop(self, key: int) -> None:
        rec = self._live.get(key)
        if rec is None:
            return
        rec[1] -= 1
        if rec[1] == 0:
            self.now -= rec[0]
            del self._live[key]

    def take_peak(self) -> int:
        """The peak since the last call; the next window starts from what is live now."""
        out, self.peak = self.peak, self.now
        return out

    def __enter__(self) -> "SavedBytes":
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)
