"""The ``precision`` field and factor (fp32 | bf16), and the retired ``MOSTrainConfig.bf16`` it replaced."""
from __future__ import annotations

import contextlib
import dataclasses
import json

import pandas as pd
import pytest
import torch

from ablations import graph as G
from ablations import grid as grid_mod
from ablations.grid import cell
from sfi_mos.config import config_hash, from_dict, identity_dict, to_dict
from sfi_mos.errors import InputError
from sfi_mos.mos.backbone import build_backbone
from sfi_mos.mos.model import MOSModel
from sfi_mos.sfi import SFIConv1d
from sfi_mos.ssl import SFIStudent, load_teacher, write_tiny_checkpoints
from sfi_mos.train import mos_stage
from sfi_mos.train.configs import BackboneSpec, DistillConfig, MOSTrainConfig, TeacherSpec
from sfi_mos.train.precision import autocast

from grid_fixtures import inputs
from mos_fixtures import finetune_cfg, mos_world  # noqa: F401  (session fixture)
from paper_fixtures import FIXTURE_DIR


# --- the config field -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [DistillConfig, MOSTrainConfig])
def test_precision_is_a_checked_choice(cls):
    assert cls(precision="bf16").precision == "bf16"
    with pytest.raises(InputError, match=rf"{cls.__name__}\.precision: 'bf32' is not one of 'fp32', 'bf16'"):
        cls(precision="bf32")


@pytest.mark.parametrize("cls", [DistillConfig, MOSTrainConfig])
def test_fp32_is_left_out_of_the_id_and_bf16_is_a_new_one(cls):
    cfg = cls()
    assert "precision" not in identity_dict(cfg) and to_dict(cfg)["precision"] == "fp32"  # config.json has it
    bf16 = dataclasses.replace(cfg, precision="bf16")
    assert identity_dict(bf16)["precision"] == "bf16" and config_hash(bf16) != config_hash(cfg)


def test_bf16_cell_sets_precision_in_every_training_stage_of_its_own():
    abl = cell("authors", "hubert", precision="bf16")
    assert abl.name == "authors-hubert+precision=bf16-s0" and abl in grid_mod.get("default").cells
    grid = grid_mod.get("smoke")
    stages = {s: c for s, c, _ in G.cell_stages(grid, abl, inputs())}
    assert all(stages[s].precision == "bf16" for s in ("distill", "pretrain", "finetune"))
    # the 0-step no-distillation control has no loop for precision to change: its distill run is shared
    nokd = [c for s, c, _ in G.cell_stages(grid, cell("authors", "wav2vec2", distill=False, precision="bf16"),
                                           inputs()) if s == "distill"]
    assert nokd[0].precision == "fp32"


# --- the retired MOSTrainConfig.bf16 ----------------------------------------------------------------
def test_old_config_json_with_bf16_false_loads_and_keeps_its_run_id():
    run = next((FIXTURE_DIR / "smoke" / "finetune").glob("*/config.json"))  # written before 0.3.0
    old = json.loads(run.read_text())
    assert old["bf16"] is False and "precision" not in old
    cfg = from_dict(MOSTrainConfig, old)
    assert cfg.precision == "fp32" and "bf16" not in to_dict(cfg)  # config.json no longer writes it
    assert G.run_id("finetune", cfg) == run.parent.name  # the id it was published under
    assert identity_dict(cfg)["bf16"] is False


@pytest.mark.parametrize("value,hint", [(True, "use precision='bf16'"), ("yes", "'yes' has no equivalent"),
                                        (1, "1 has no equivalent")])
def test_old_config_json_with_another_bf16_value_says_what_replaced_it(value, hint):
    old = {**to_dict(MOSTrainConfig()), "bf16": value}
    del old["precision"]
    with pytest.raises(InputError, match=rf"MOSTrainConfig\.bf16 was replaced by precision in 0\.3\.0: {hint}"):
        from_dict(MOSTrainConfig, old)


# --- autocast -----------------------------------------------------------------------------------------
def test_autocast_fp32_is_a_no_op_and_bf16_casts_on_cpu():
    cpu = torch.device("cpu")
    a = torch.randn(4, 4)
    assert isinstance(autocast("fp32", cpu), contextlib.nullcontext)
    with autocast("fp32", cpu):
        assert (a @ a).dtype == torch.float32
    with autocast("bf16", cpu):
        assert (a @ a).dtype == torch.bfloat16
    with pytest.raises(InputError, match="'fp16' is not one of"):
        autocast("fp16", cpu)


@pytest.fixture(scope="module")
def tiny_sfi_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("precision")
    ckpts = write_tiny_checkpoints(root / "ckpt", size="tiny", seed=0)
    teacher = load_teacher(TeacherSpec("hubert_local", str(ckpts["hubert"])))
    student = SFIStudent.from_teacher(teacher, grid_mod.TINY_SFI, init="teacher", fit_steps=5, seed=0)
    student.save(root / "run" / "student.pt")
    torch.manual_seed(0)
    return MOSModel(build_backbone(BackboneSpec(kind="sfi", student_run=str(root / "run")), None), 4)


def _recording(design, seen: list):
    def wrapped(plan):
        w = design(plan)
        seen.append(w.dtype)
        return w
    return wrapped


def test_bf16_forward_on_cpu_is_close_to_fp32_and_the_sfi_design_stays_fp32(tiny_sfi_model, monkeypatch):
    model = tiny_sfi_model.eval()
    layers = [m for m in model.modules() if isinstance(m, SFIConv1d)]
    assert layers
    designed = []
    for layer in layers:  # what the design returns, inside the autocast
        monkeypatch.setattr(layer, "_design", _recording(layer._design, designed))
    wav = torch.randn(24000, generator=torch.Generator().manual_seed(0)) * 0.1
    idx, lis = torch.tensor([0, 0]), torch.tensor([1, 2])
    out = {}
    for precision in ("fp32", "bf16"):
        for layer in layers:
            layer.clear_cache()
        with torch.no_grad(), autocast(precision, torch.device("cpu")):
            out[precision] = model([wav], 24000, idx, lis)
    assert designed and set(designed) == {torch.float32}
    assert out["fp32"].dtype == torch.float32
    diff = (out["bf16"].float() - out["fp32"]).abs().max().item()
    assert 0 < diff < 0.05 * max(1.0, out["fp32"].abs().max().item()), diff  # bf16 rounding, nothing more


def test_bf16_training_step_on_cpu_gives_finite_fp32_gradients(tiny_sfi_model):
    model = tiny_sfi_model.train()
    wav = torch.randn(16000, generator=torch.Generator().manual_seed(1)) * 0.1
    with autocast("bf16", torch.device("cpu")):
        pred = model([wav], 16000, torch.tensor([0]), torch.tensor([1]))
    ((pred.float() - 3.0) ** 2).mean().backward()  # as mos_stage: the loss in fp32, no grad scaler
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    sfi = [p.grad for m in model.modules() if isinstance(m, SFIConv1d) for p in m.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in sfi)  # the filters learn under bf16 too
    model.zero_grad(set_to_none=True)


def test_mos_stage_trains_in_bf16_on_cpu(mos_world, tmp_path):
    """The default grid's bf16 cell runs the MOS stage on CPU: a capped run ends with sane predictions."""
    cfg = finetune_cfg(mos_world, precision="bf16", max_epochs=1, max_steps=2, ckpt_every=0)
    m = mos_stage.run(cfg, tmp_path / "bf16")
    assert m["steps"] == 2
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["precision"] == "bf16"
    preds = pd.read_csv(tmp_path / "bf16" / "predictions.csv")
    assert preds.pred.between(1, 5).all() and preds.pred.std() > 0
