"""Hugging Face ``save_pretrained`` directories (``config.json`` + ``model.safetensors``) <-> our backbones.

``read_dir`` opens one (safetensors only: a ``pytorch_model.bin`` is a pickle and is refused);
``to_model`` builds the matching s3prl-class model (``Teacher``, or ``SFIStudent`` when the first
conv is the authors' SFI layer) and fills it strictly: every tensor of the file is consumed or
listed in the report with the reason it is unused, every tensor of ours is set (the pre-training
heads HF base models lack are zeroed, and listed), and the first missing key, extra key or wrong
shape is an ``InputError`` naming the key, the shapes and the file. ``write_dir`` is the inverse:
what ``transformers.AutoModel.from_pretrained`` reads (HF key names and config fields).
See ``hf_keys`` for the names and for what is inferred about the authors' SFI layer.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_path, write_json
from ..errors import InputError
from . import arch as archmod
from . import hf_keys as K
from .student import SFIStudent
from .teacher import Teacher

CONFIG, WEIGHTS = "config.json", "model.safetensors"


@dataclass
class HFModel:
    path: Path
    config: dict
    state: dict[str, torch.Tensor]
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> content hash

    @property
    def sfi(self) -> bool:
        return any(k.startswith(K.SFI_FILTERS) for k in self.state)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def files_sha256(path: str | Path) -> dict[str, str]:
    """Content hashes of the two files that define a model directory (what run ids key on)."""
    path = Path(path)
    return {name: _sha256(path / name) for name in (CONFIG, WEIGHTS)}


def read_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise InputError(str(path), "no such directory (expected a Hugging Face save_pretrained folder)")
    cfg_path = path / CONFIG
    if not cfg_path.is_file():
        raise InputError(str(path), f"no {CONFIG}: not a Hugging Face save_pretrained directory")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(str(cfg_path), f"not readable JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise InputError(str(cfg_path), "not a JSON object")
    return cfg


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:  # truncated, corrupt header, not a safetensors file
        raise InputError(str(path), f"corrupt or truncated safetensors file ({e})") from None


def read_dir(path: str | Path) -> HFModel:
    path = Path(path)
    cfg = read_config(path)
    weights = path / WEIGHTS
    if not weights.is_file():
        other = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.safetensors.index.json")]
        hint = f" (found {other}: pickled or sharded weights are not read)" if other else ""
        raise InputError(str(path), f"no {WEIGHTS}{hint}")
    return HFModel(path, cfg, read_safetensors(weights), files_sha256(path))


def _sfi_spec(hf: HFModel, where: str) -> dict:
    own = hf.config.get("sfi_mos_sfi")  # written by our write_dir: our layer's exact settings
    if own is not None:
        return dict(own, naf_hidden=tuple(own["naf_hidden"]))
    st = hf.state
    need = [K.RFF_KEY] + [f"{K.SFI_FILTERS}implicit_filter.{i}.weight" for i in (0, 3)]
    for key in need:
        if key not in st:
            raise InputError(where, f"SFI first conv without tensor {key!r}")
    hidden = (int(st[need[1]].shape[0]), int(st[need[2]].shape[0]))
    max_ang = st.get(K.MAX_FREQ_KEY)
    return K.authors_sfi_spec(int(st[K.RFF_KEY].shape[0]), hidden,
                              None if max_ang is None else float(max_ang),
                              int(hf.config.get("n_samples", 640)))


def load_state(model: nn.Module, state: dict[str, torch.Tensor], where: str,
               unused: dict[str, str] | None = None, no_masking: bool = False) -> dict[str, dict[str, str]]:
    """Fill ``model`` (an s3prl-class model) from HF-named ``state``, strictly. ``unused``: file keys
    consumed elsewhere, with why; ``no_masking``: the config turns SpecAugment off, so HF builds no
    ``masked_spec_embed``. Returns the report {"unused": {key: why}, "not_in_file": {key: why}}."""
    unused = dict(unused or {})
    state = {K.ALIASES.get(k, k): v for k, v in state.items()}
    ours = model.state_dict()
    new, not_in_file, consumed = {}, {}, set()
    for key, mine in ours.items():
        hk = K.hf_key(key)
        if hk is None:
            new[key] = torch.zeros_like(mine)
            not_in_file[key] = "pre-training head: HF base models have none and the forward never uses it (zeroed)"
            continue
        src = state.get(hk)
        if src is None and hk == "masked_spec_embed" and no_masking:
            new[key] = torch.zeros_like(mine)
            not_in_file[key] = "SpecAugment is off in config.json (mask_time_prob = mask_feature_prob = 0): zeroed"
            continue
        if src is None:
            raise InputError(where, f"missing tensor {hk!r} (our {key!r}, shape {tuple(mine.shape)})")
        if tuple(src.shape) != tuple(mine.shape):
            raise InputError(where, f"tensor {hk!r} has shape {tuple(src.shape)}; the model described by "
                                    f"{CONFIG} needs {tuple(mine.shape)}")
        new[key] = src.to(mine.dtype)
        consumed.add(hk)
    extra = sorted(set(state) - consumed - set(unused))
    if extra:
        raise InputError(where, f"unexpected tensor {extra[0]!r} (shape {tuple(state[extra[0]].shape)}), "
                                f"{len(extra)} in all, that no parameter of the model takes")
    model.load_state_dict(new, strict=True)
    return {"unused": unused, "not_in_file": not_in_file}


def to_model(hf: HFModel, name: str = "", where: str | None = None,
             config_where: str | None = None) -> tuple[nn.Module, dict]:
    """(``Teacher`` or ``SFIStudent`` holding the weights, load report). The input normalisation is
    left off (the caller sets it: the authors feed SFI models the raw waveform). ``where`` /
    ``config_where`` name the weights and the config in errors (default: the directory's files)."""
    where = where or str(hf.path / WEIGHTS)
    arch = K.arch_from_config(hf.config, hf.sfi, config_where or str(hf.path / CONFIG))
    unused = {}
    with torch.random.fork_rng(devices=[]):  # building must not move the caller's RNG
        if hf.sfi:
            if arch["model_cfg"]["conv_bias"]:
                raise InputError(where, "an SFI first conv with a bias (conv_bias=true) is not supported")
            net = SFIStudent(arch, _sfi_spec(hf, where))
            net.normalize = False
            if K.MAX_FREQ_KEY in hf.state:
                unused[K.MAX_FREQ_KEY] = "read into the SFI layer's max_freq_hz (a constant, not a parameter)"
            net.info = {"init": "hf", "source": str(hf.path), "sha256": dict(hf.sha256)}
        else:
            net = Teacher(archmod.build(arch), arch, name or str(hf.config.get("_name_or_path", "")))
    no_masking = not hf.config.get("mask_time_prob", 0.05) and not hf.config.get("mask_feature_prob", 0.0)
    report = load_state(net.model, hf.state, where, unused, no_masking)
    if hf.sfi:
        net.set_sample_rate(16000)
    return net, report


def hf_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """HF-named tensors of a ``Teacher``/``SFIStudent`` (pre-training heads left out)."""
    out = {}
    for key, v in net.model.state_dict().items():
        hk = K.hf_key(key)
        if hk is not None:
            out[hk] = v.detach().cpu().contiguous().clone()
    if isinstance(net, SFIStudent):
        out[K.MAX_FREQ_KEY] = torch.tensor(2 * math.pi * float(net.sfi_spec["max_freq_hz"]))
    return out


def write_dir(net: nn.Module, out_dir: str | Path) -> dict[str, str]:
    """Write ``net`` as a save_pretrained directory; returns the files' content hashes."""
    out_dir = Path(out_dir)
    arch = getattr(net, "arch", None)
    if arch is None:
        raise InputError(str(out_dir), "only wav2vec2/HuBERT/WavLM models can be written in HF format")
    sfi = dict(net.sfi_spec) if isinstance(net, SFIStudent) else None
    write_json(out_dir / CONFIG, K.config_from_arch(arch, sfi))
    with atomic_path(out_dir / WEIGHTS) as tmp:
        save_file(hf_state(net), str(tmp), metadata={"format": "pt"})  # transformers checks "format"
    return files_sha256(out_dir)
