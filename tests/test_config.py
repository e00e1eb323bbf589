import json
from dataclasses import dataclass
from typing import ClassVar

import pytest

from sfi_mos.atomic import atomic_path, write_json
from sfi_mos.config import Retired, config_hash, from_dict, identity_dict, override, to_dict
from sfi_mos.errors import InputError
from sfi_mos.rundir import finish, is_done, resolve_path, start
from sfi_mos.train import STAGES
from sfi_mos.train.configs import BackboneSpec, DistillConfig, MOSTrainConfig, SFISpec


def test_roundtrip_and_hash_stable():
    cfg = MOSTrainConfig(backbone=BackboneSpec(kind="resample"), fold=2)
    d = to_dict(cfg)
    assert json.loads(json.dumps(d)) == d  # plain JSON
    back = from_dict(MOSTrainConfig, d)
    assert back == cfg
    assert config_hash(back) == config_hash(cfg)
    assert len(config_hash(cfg)) == 12


def test_hash_changes_with_any_field():
    base = DistillConfig()
    ids = {config_hash(base), config_hash(override(base, steps=5)),
           config_hash(override(base, **{"sfi.stride_policy": "sinc"})),
           config_hash(override(base, **{"teacher.name": "wavlm_local"}))}
    assert len(ids) == 4


def test_override_rejects_unknown_field():
    with pytest.raises(ValueError, match="no field 'nope'"):
        override(DistillConfig(), nope=1)
    with pytest.raises(ValueError, match="unknown config keys"):
        from_dict(SFISpec, {"filter": "naf", "bogus": 1})


def test_tuples_survive_roundtrip():
    cfg = override(DistillConfig(), rates=(16000, 48000))
    assert from_dict(DistillConfig, to_dict(cfg)).rates == (16000, 48000)


def test_every_stage_has_a_config_class():
    assert set(STAGES) == {"import", "distill", "pretrain", "finetune", "predict", "score", "probe", "peers"}


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "m.json"
    write_json(p, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed mid-write")
    assert json.loads(p.read_text()) == {"a": 1}
    assert [f.name for f in tmp_path.iterdir()] == ["m.json"]  # no temp file left behind


def test_rundir_lifecycle_and_relative_paths(tmp_path):
    run = tmp_path / "results" / "smoke" / "finetune" / "abc123"
    start(run, MOSTrainConfig())
    assert json.loads((run / "config.json").read_text())["stage"] == "finetune"
    env = json.loads((run / "env.json").read_text())
    assert "packages" in env and env["git_dirty"] in (True, False, None)
    assert not is_done(run)
    finish(run, {"best_epoch": 1})
    assert is_done(run)
    assert resolve_path("data/track3", run) == (tmp_path / "results" / "smoke" / "data" / "track3").resolve()
    assert resolve_path("/abs/x", run) == type(resolve_path("/abs/x", run))("/abs/x")


def test_atomic_files_get_normal_permissions(tmp_path):
    import os
    p = tmp_path / "shared.json"
    write_json(p, {})
    umask = os.umask(0)
    os.umask(umask)
    assert (p.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_retired_field_keeps_ids_and_reads_old_config_json():
    """A field taken out of a config keeps hashing at its retired value; old files name its successor."""
    @dataclass(frozen=True)
    class Old:
        lr: float = 1.0
        fast: bool = False

    @dataclass(frozen=True)
    class New:
        RETIRED: ClassVar[dict] = {"fast": Retired(False, since="9.9", replaced_by="mode",
                                                   equivalents=((True, "quick"),))}
        lr: float = 1.0

    assert identity_dict(New()) == identity_dict(Old()) and config_hash(New()) == config_hash(Old())
    assert to_dict(New()) == {"lr": 1.0}
    assert from_dict(New, to_dict(Old())) == New()
    with pytest.raises(InputError, match=r"New\.fast was replaced by mode in 9\.9: use mode='quick'"):
        from_dict(New, {"lr": 1.0, "fast": True})
