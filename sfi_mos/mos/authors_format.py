"""The authors' MOS checkpoints (Lightning ``.ckpt`` of msr-utmos ``SSLMOSLightningModule``) <-> ``MOSModel``.

Layout (``src/sfi_utmos/model/ssl_mos.py`` at ccf5e98): ``state_dict`` holds ``ssl_model.*`` (the HF
backbone), ``pred_liner.{0,2}`` (Linear-SiLU-Linear), ``listenr_embedding.weight`` (1000 x H) and,
with ``condition_sr``, ``sr_embedding.weight`` (3 x H for 16/24/48 kHz); the misspellings are
theirs. ``hyper_parameters`` hold ``ssl_model_path``, ``processor_path``, ``condition_sr`` and
``pretrained_model_path``; the last names the authors' cluster files and is never opened.

Files are opened with ``torch.load(weights_only=True)`` under an explicit (empty) allow-list, so a
checkpoint can hold tensors and plain containers only and cannot run code. The mapping is strict,
as in ``sfi_mos.ssl.hf_format``: the first missing, extra or misshapen tensor is an ``InputError``.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..atomic import torch_save, write_json
from ..errors import InputError
from ..ssl import hf_format, hf_keys
from .backbone import Backbone, set_input_norm
from .head import SR_TABLE
from .model import MOSModel

LIGHTNING_VERSION = "2.5.1.post0"  # the authors' uv.lock
N_LISTENERS = 1000  # Embedding(1000, H) in their __init__
DEFAULT_LISTENERS = tuple(range(1, 11))  # demo.py: for listner in range(1, 11)
SAFE_GLOBALS: list = []  # nothing beyond torch's own weights-only set: tensors, dicts, lists, numbers, str
OURS = "sfi_mos"  # our own top-level block (Lightning ignores unknown top-level keys)
# The Base architectures behind every hub id the authors' configs name (the HF config classes'
# defaults are these models); --ssl DIR (its config.json) is needed for anything else.
BASE_CONFIG = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                   hidden_act="gelu", feat_extract_norm="group", conv_dim=[512] * 7,
                   conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_bias=False,
                   num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, do_stable_layer_norm=False,
                   layer_norm_eps=1e-5)
KNOWN_SSL = {"facebook/hubert-base-ls960": "hubert", "facebook/wav2vec2-base": "wav2vec2",
             "microsoft/wavlm-base": "wavlm", "microsoft/wavlm-base-plus": "wavlm",
             **{f"Wataru/{n}": "hubert" for n in ("sfi_hubert", "sfi_hubert_distill_ears", "sfi_w2v2_distill_ears",
                                                  "sfi_wavlm_distill_ears", "sfi_w2v2_encoder_copy")}}
# facebook/wav2vec2-base's preprocessor_config.json: do_normalize true (every non-SFI config uses it)
KNOWN_PROCESSORS = {"facebook/wav2vec2-base": True}
_HEAD = {"pred_liner.0.weight": "mlp.0.weight", "pred_liner.0.bias": "mlp.0.bias",
         "pred_liner.2.weight": "mlp.2.weight", "pred_liner.2.bias": "mlp.2.bias",
         "listenr_embedding.weight": "listener.weight", "sr_embedding.weight": "sr.weight"}


def read_lightning(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such checkpoint file")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:  # a global outside the allow-list: the file wants to run code
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(str(path), f"refused: the checkpoint holds Python objects beyond tensors and plain "
                                    f"containers, which could run code when loaded ({first})") from None
    except Exception as e:  # truncated zip, not a torch file: torch/zip raise many types
        raise InputError(str(path), f"corrupt or truncated checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("state_dict"), dict) \
            or not isinstance(blob.get("hyper_parameters"), dict):
        raise InputError(str(path), "not a Lightning checkpoint (needs state_dict and hyper_parameters)")
    return blob


def _local_dir(value, ckpt: Path) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    for cand in (Path(value), ckpt.parent / value):
        if (cand / hf_format.CONFIG).is_file() or (cand / "preprocessor_config.json").is_file():
            return cand
    return None


def _ssl_config(blob: dict, ckpt: Path, ssl_dir) -> tuple[dict, str]:
    """(HF config of the backbone, where it came from), in order: --ssl, ssl_model_path as a local
    folder, our own block, the Base config of a known hub id."""
    if ssl_dir is not None:
        return hf_format.read_config(ssl_dir), str(Path(ssl_dir) / hf_format.CONFIG)
    name = blob["hyper_parameters"].get("ssl_model_path")
    local = _local_dir(name, ckpt)
    if local is not None:
        return hf_format.read_config(local), str(local / hf_format.CONFIG)
    ours = blob.get(OURS)
    if isinstance(ours, dict) and isinstance(ours.get("hf_config"), dict):
        return dict(ours["hf_config"]), f"{ckpt} ({OURS}.hf_config)"
    if name in KNOWN_SSL:
        kind = KNOWN_SSL[name]
        extra = {"num_buckets": 320, "max_bucket_distance": 800} if kind == "wavlm" else {}
        return {"model_type": kind, **BASE_CONFIG, **extra}, f"{ckpt} (ssl_model_path {name!r}: Base architecture)"
    raise InputError(str(ckpt), f"the architecture of ssl_model_path={name!r} is not known here; pass --ssl "
                                "with its local save_pretrained folder (config.json)")


def _normalizes(hp: dict, ckpt: Path, ssl_dir) -> bool:
    """Whether the authors' processor normalises each clip (non-SFI models only)."""
    proc = hp.get("processor_path") or hp.get("ssl_model_path")
    if proc in KNOWN_PROCESSORS:
        return KNOWN_PROCESSORS[proc]
    for cand in (_local_dir(proc, ckpt), Path(ssl_dir) if ssl_dir is not None else None):
        if cand is not None and (cand / "preprocessor_config.json").is_file():
            return bool(json.loads((cand / "preprocessor_config.json").read_text()).get("do_normalize", False))
    raise InputError(str(ckpt), f"processor_path={proc!r} is not known here; put its preprocessor_config.json "
                                "in the --ssl folder")


class AuthorsModel(nn.Module):
    """A ``MOSModel`` read from the authors' checkpoint, predicting as their ``demo.py`` does: one clip
    at a time, mean over every frame, tanh, averaged over ``listeners``; SR-embedding models refuse
    rates outside 16/24/48 kHz (``sr2id``) instead of mapping them to the nearest."""

    def __init__(self, model: MOSModel, info: dict):
        super().__init__()
        self.model = model
        self.info = info
        self.supported_rates = SR_TABLE if model.head.sr is not None else None

    def check_rate(self, sample_rate: int, where: str) -> None:
        if self.supported_rates is not None and int(sample_rate) not in self.supported_rates:
            raise InputError(where, f"sampling rate {int(sample_rate)} Hz is not supported by this SR-conditioned "
                                    f"model; supported rates: {', '.join(map(str, self.supported_rates))}")

    def predict_norm(self, wavs: Sequence[torch.Tensor], sample_rate: int, listener_ids: Sequence[int]) -> torch.Tensor:
        self.check_rate(sample_rate, "input")
        return torch.cat([self.model.predict_norm([w], sample_rate, listener_ids) for w in wavs])


def load_authors(ckpt: str | Path, ssl_dir: str | Path | None = None) -> AuthorsModel:
    """An ``AuthorsModel`` (eval mode, CPU) from the authors' Lightning checkpoint."""
    ckpt = Path(ckpt)
    blob = read_lightning(ckpt)
    hp, sd = blob["hyper_parameters"], blob["state_dict"]
    cfg, cfg_where = _ssl_config(blob, ckpt, ssl_dir)
    ssl = {k[len("ssl_model."):]: v for k, v in sd.items() if k.startswith("ssl_model.")}
    hf = hf_format.HFModel(ckpt, cfg, ssl)
    net, report = hf_format.to_model(hf, str(hp.get("ssl_model_path", "")), where=f"{ckpt} state_dict ssl_model.*",
                                     config_where=cfg_where)
    condition_sr = bool(hp.get("condition_sr", False))
    if hf.sfi:
        kind = "sfi"
    else:
        kind = "resample_sr" if condition_sr else "resample"
        if _normalizes(hp, ckpt, ssl_dir):
            set_input_norm(net, "utterance")
    head_keys = [k for k in _HEAD if k != "sr_embedding.weight" or condition_sr]
    listeners = sd.get("listenr_embedding.weight")
    if listeners is None:
        raise InputError(str(ckpt), "missing tensor 'listenr_embedding.weight' in state_dict")
    model = MOSModel(Backbone(net, kind, "last"), int(listeners.shape[0]), condition_sr)
    head = model.head.state_dict()
    for key in head_keys:
        if key not in sd:
            raise InputError(str(ckpt), f"missing tensor {key!r} in state_dict (condition_sr={condition_sr})")
        want = tuple(head[_HEAD[key]].shape)
        if tuple(sd[key].shape) != want:
            raise InputError(str(ckpt), f"tensor {key!r} has shape {tuple(sd[key].shape)}; expected {want}")
        head[_HEAD[key]] = sd[key].float()
    extra = sorted(k for k in sd if not k.startswith("ssl_model.") and k not in head_keys)
    if extra:
        raise InputError(str(ckpt), f"unexpected tensor {extra[0]!r} in state_dict ({len(extra)} in all)")
    model.head.load_state_dict(head, strict=True)
    ours = blob.get(OURS) if isinstance(blob.get(OURS), dict) else {}
    n = ours.get("n_listeners")
    if isinstance(n, int) and 0 < n < model.head.n_listeners:  # our export padded the table with zeros
        model.head.listener = nn.Embedding.from_pretrained(model.head.listener.weight[:n].clone(), freeze=False)
    info = {"checkpoint": str(ckpt), "kind": kind, "condition_sr": condition_sr, "config": cfg_where,
            "ssl_model_path": hp.get("ssl_model_path"), "report": report,
            "ignored": {"pretrained_model_path": "the authors' cluster path; never opened"},
            "train_listeners": list(ours.get("train_listeners", []))}
    return AuthorsModel(model.eval(), info)


def lightning_state(model: MOSModel) -> dict[str, torch.Tensor]:
    """Our model's tensors under the authors' names (listener table padded to their 1000 rows)."""
    if model.backbone.features != "last" or model.backbone.featurizer is not None:
        raise InputError("model", "the authors' head reads the last hidden layer; a weighted-layer model cannot "
                                  "be written in their format")
    state = {f"ssl_model.{k}": v for k, v in hf_format.hf_state(model.backbone.model).items()}
    head = {k: v.detach().cpu().clone() for k, v in model.head.state_dict().items()}
    for theirs, ours in _HEAD.items():
        if ours in head:
            state[theirs] = head[ours]
    table = state["listenr_embedding.weight"]
    if table.shape[0] > N_LISTENERS:
        raise InputError("model", f"{table.shape[0]} listener rows; the authors' class holds {N_LISTENERS}")
    state["listenr_embedding.weight"] = torch.cat([table, table.new_zeros(N_LISTENERS - table.shape[0], table.shape[1])])
    return state


def export_lightning(model: MOSModel, out: str | Path, *, train_listeners: Sequence[int] = (),
                     epoch: int = 0, global_step: int = 0) -> Path:
    """Write ``out`` (the .ckpt) and ``<out>.ssl/`` (the backbone's save_pretrained folder, which the
    checkpoint's ``ssl_model_path`` and ``processor_path`` name), as ``load_from_checkpoint`` reads them."""
    out = Path(out)
    ssl_dir = out.with_name(out.stem + ".ssl")
    net = model.backbone.model
    hf_format.write_dir(net, ssl_dir)
    sfi = model.backbone.kind == "sfi"
    # the processor the authors' class will run on non-SFI input: normalising exactly when ours does.
    # processor_class: without it AutoProcessor (ssl_mos.py l.40) follows the model config to a
    # Wav2Vec2Processor, which needs a tokenizer vocabulary, and fails (seen with transformers 4.52 and 5.25)
    write_json(ssl_dir / "preprocessor_config.json", {
        "processor_class": "Wav2Vec2FeatureExtractor", "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1, "sampling_rate": 16000,
        "padding_value": 0.0, "padding_side": "right", "return_attention_mask": False,
        "do_normalize": bool(getattr(net, "normalize", False)) and not sfi})
    hp = {"ssl_model_path": str(ssl_dir.resolve()), "pretrained_model_path": None,
          "processor_path": str(ssl_dir.resolve()), "condition_sr": model.head.sr is not None}
    blob = {"epoch": int(epoch), "global_step": int(global_step), "pytorch-lightning_version": LIGHTNING_VERSION,
            "state_dict": lightning_state(model), "loops": {}, "callbacks": {}, "optimizer_states": [],
            "lr_schedulers": [], "hparams_name": "kwargs", "hyper_parameters": hp,
            OURS: {"n_listeners": model.head.n_listeners, "train_listeners": [int(i) for i in train_listeners],
                   "hf_config": hf_keys.config_from_arch(net.arch, dict(net.sfi_spec) if sfi else None)}}
    torch_save(out, blob)
    return out
