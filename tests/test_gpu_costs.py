"""GPU planning: the GPU table, the micro-batch for a memory budget, CPU footprints (FLOPs and
activation bytes fitted from small loads), profile keys, the dry run's GPU table and the execution
dicts the launcher hands to each training run."""
from __future__ import annotations

import json
import re

import pytest

from replication import gpu_costs, gpus, launcher, profiles, run_all
from sfi_mos.errors import InputError

from grid_fixtures import fake_stages  # noqa: F401

GIB = 2 ** 30


def test_gpu_table_rows_and_unknown_names():
    for g in gpus.GPUS.values():
        assert g.mem_gib > 0 and g.fp32_tflops > 0 and g.source.startswith("https://")
        assert g.bf16_tflops is None or g.bf16_tflops > g.fp32_tflops
    assert gpus.get("A100-80GB").peak_tflops("bf16") == 312.0 and gpus.get("V100-32GB").peak_tflops("bf16") is None
    with pytest.raises(InputError, match="unknown GPU 'A100'.*known: A100-40GB, A100-80GB"):
        gpus.get("A100")


def _need(static_gib: float, gib_per_clip_s: float) -> dict:
    fit = {"c_bytes": 0.0, "bytes_per_clip": 0.0, "bytes_per_clip_s": gib_per_clip_s * GIB, "bytes_per_clip_s2": 0.0}
    return {"static": static_gib * GIB, "fit": fit, "source": "test"}


def test_micro_batch_fits_the_budget_and_grows_with_it():
    need = _need(10, 1)  # 10 GiB static, 1 GiB per clip-second
    # 40 GiB - 10 % margin = 36 GiB: 26 GiB of 2 s clips (2 GiB each) -> 13 clips
    assert gpu_costs.micro_batch(need, 40 * GIB, 32, 2.0) == 13
    assert gpu_costs.micro_batch(need, 80 * GIB, 32, 2.0) == 31  # 72 - 10 GiB = 31 clips
    assert gpu_costs.micro_batch(need, 90 * GIB, 32, 2.0) == 32  # the whole batch fits
    sizes = [gpu_costs.micro_batch(need, b * GIB, 64, 2.0) for b in range(14, 200, 7)]
    assert sizes == sorted(sizes) and sizes[0] >= 1
    for m, b in zip(sizes, range(14, 200, 7)):  # never over the budget, and one more clip would be
        assert gpu_costs.step_bytes(need, m, 2.0) <= 0.9 * b * GIB
        assert m == 64 or gpu_costs.step_bytes(need, m + 1, 2.0) > 0.9 * b * GIB
    with pytest.raises(InputError, match=r"pretrain x: one clip of 20 s needs 30\.0 GiB .* the 24\.0 GiB budget"):
        gpu_costs.micro_batch(need, 24 * GIB, 64, 20.0, "pretrain x")


@pytest.fixture(scope="module")
def smoke_footprints(tmp_path_factory):
    """The smoke grid's tiny footprints, regenerated as ``python -m replication.footprint`` writes them."""
    from replication import footprint

    out = tmp_path_factory.mktemp("fp") / "smoke-tiny.json"
    assert footprint.main(["--grid", "smoke", "--size", "tiny", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_footprint_file_format(smoke_footprints):
    from replication import footprint

    doc = smoke_footprints
    assert doc["format"] == footprint.FORMAT and doc["size"] == "tiny" and doc["torch"]
    fps = list(doc["entries"].values())
    assert {(f["spec"]["stage"], f["precision"]) for f in fps} == {(s, p) for s in ("distill", "pretrain", "finetune")
                                                                   for p in ("fp32", "bf16")}
    for f in fps:
        assert f["key"] == footprint.key(f["spec"], f["precision"])
        assert f["activation_fit"]["terms"] == "cdab" and f["activation_fit"]["max_rel_residual"] < 0.01
        st = f["static"]
        # pre-training heads get no gradient and no optimiser state: at most one gradient per parameter,
        # RAdam keeps two moments of each gradient
        assert 0 < st["grad_bytes"] <= st["param_bytes"]
        assert st["optimizer_bytes"] >= (2 if f["spec"]["stage"] == "distill" else 1) * st["grad_bytes"]
        assert (st["frozen_bytes"] > 0) == (f["spec"]["stage"] == "distill")
        assert set(f["flop_fits"]) == {str(r) for r in f["spec"]["rates"]}


@pytest.mark.parametrize("stage", ["distill", "finetune"])
def test_footprint_fit_predicts_an_unmeasured_load(smoke_footprints, stage):
    """Fitted from five loads of about a second, the activation bytes and FLOPs of 3 clips of 1.5 s (never
    measured) come out within 1 % of a direct count."""
    import torch

    from replication import footprint
    from replication.costs import fit_crop

    fp = next(f for f in smoke_footprints["entries"].values() if f["spec"]["stage"] == stage and f["precision"] == "fp32")
    model, teacher, _ = footprint._models(fp["spec"])
    top = fp["activation_rate"]
    clips, seconds = 3, fit_crop(1.5)
    direct = footprint.measure_point(fp["spec"], model, teacher, clips, seconds, top, "fp32")
    assert footprint.activations(fp, clips, seconds) == pytest.approx(direct["saved"], rel=0.01)
    fit = {**fp, "rate_weights": {str(top): 1}, "flop_fits": {str(top): fp["flop_fits"][str(top)]}}
    assert footprint.flops(fit, clips, seconds) == pytest.approx(direct["flops"], rel=0.01)
    assert torch.is_grad_enabled()


def _toml(tmp_path, body: str):
    p = tmp_path / "site.toml"
    p.write_text(body)
    return str(p)


def test_profile_gpu_keys_are_checked_and_set_tasks(tmp_path):
    for body, match in (('[defaults]\ngpu = "A100"\n', r"\[defaults\] gpu.*got 'A100'.*A100-80GB"),
                        ("[defaults]\ngpu_mem = -1\n", r"\[defaults\] gpu_mem.*GiB, a number > 0"),
                        ("[stages.pretrain]\ntasks = 0\n", r"\[stages.pretrain\] tasks.*integer >= 1"),
                        ('[defaults]\ngpus = "2"\n', r"\[defaults\] gpus.*integer >= 0")):
        with pytest.raises(InputError, match=match) as e:
            profiles.load(_toml(tmp_path, body))
        assert "site.toml" in str(e.value)
    prof = profiles.load(_toml(tmp_path, '[defaults]\ngpus = 1\ngpu = "L40S-48GB"\n[stages.pretrain]\ngpus = 4\n'
                                         '[stages.finetune]\ngpus = 2\ntasks = 1\ngpu_mem = 20\n[stages.score]\ngpus = 0\n'))
    assert profiles.stage_params(prof, "pretrain", 60)["tasks_per_node"] == 4
    assert profiles.stage_params(prof, "pretrain", 60)["gpus_per_node"] == 4
    assert profiles.stage_params(prof, "distill", 60)["tasks_per_node"] == 1
    assert profiles.stage_params(prof, "finetune", 60)["tasks_per_node"] == 1
    assert profiles.gpu_plan(prof, "finetune")["gpu_mem_gib"] == 20 and profiles.gpu_plan(prof, "score") is None
    plan = profiles.gpu_plan(prof, "distill")
    assert plan["gpu"].name == "L40S-48GB" and plan["gpu_mem_gib"] == 45.0 and plan["tasks"] == 1
    assert profiles.gpu_plan(prof, "distill", "RTX4090-24GB")["gpu_mem_gib"] == 24.0
    assert profiles.gpu_plan(profiles.load("example"), "distill")["gpu"].name == "A100-80GB"


def test_dry_run_prints_the_gpu_plan_of_the_smoke_grid(tmp_path, capsys):
    prof = _toml(tmp_path, '[defaults]\ngpus = 1\ngpu = "RTX4090-24GB"\ntime = 30\n[stages.score]\ngpus = 0\n')
    res = str(tmp_path / "res")
    assert run_all.main(["--grid", "smoke", "--dry-run", "--profile", prof, "--results", res]) == 0
    out = capsys.readouterr().out.split("GPU plan of grid smoke (tiny-size models):")[1]
    assert "RTX4090-24GB (24 GiB reported; budget 24 GiB per task, 1 task(s) per run)" in out
    rows = {m.group(1): m.group(2).split() for m in re.finditer(r"^(distill|pretrain|finetune|predict)\s+(.*)$", out, re.M)}
    assert rows["distill"][:3] == ["1", rows["distill"][1], "fp32"] and float(rows["distill"][1]) > 0
    assert rows["pretrain"][4] == "whole" and rows["pretrain"][5] == "(8)"  # 8 rating rows per pass
    assert rows["finetune"][0] == "4" and rows["finetune"][-1] == "30"
    assert "30% MFU" in out and "10% margin" in out
    # a budget that cannot hold one clip: every training stage says so, with the need for one clip
    assert run_all.main(["--grid", "smoke", "--dry-run", "--profile", prof, "--results", res, "--gpu-mem", "0.001"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"distill: 1 run\(s\) do not fit RTX4090-24GB: distill distill/\w+: one clip of 1 s needs "
                     r"[\d.]+ GiB \(\+10% margin\) > the 0\.0 GiB budget", out)
    # no GPU named: how to name one
    assert run_all.main(["--grid", "smoke", "--dry-run", "--profile", "ci", "--results", res]) == 0
    assert "GPU plan: no GPU named: add gpu = \"<name>\"" in capsys.readouterr().out


def test_launcher_hands_each_training_run_its_execution(tmp_path, fake_stages, monkeypatch, capsys):
    got = {}
    orig = launcher.stage_job

    def spy(node, grid_dir, threads, limit_min=None, execution=None):
        got[node.rel] = execution
        return orig(node, grid_dir, threads, limit_min, execution)

    monkeypatch.setattr(launcher, "stage_job", spy)
    argv = ["--grid", "smoke", "--cluster", "debug", "--results", str(tmp_path), "--only", "*resample*", "--no-progress"]
    assert run_all.main(argv + ["--gpu-mem", "2"]) == 0
    ft = {rel: ex for rel, ex in got.items() if rel.startswith("finetune/")}
    assert len(ft) == 2 and all(ex == {"micro_batch": None, "gpu_mem_gib": 2.0} for ex in ft.values())
    assert all(ex is None for rel, ex in got.items() if not rel.startswith("finetune/"))
    for rel in ft:  # and StageJob handed it to the stage
        done = json.loads((tmp_path / "smoke" / rel / "done.json").read_text())
        assert done["execution"] == {"micro_batch": None, "gpu_mem_gib": 2.0}
    # a budget too small for one clip: refused before anything is submitted
    got.clear()
    assert run_all.main(["--grid", "smoke", "--cluster", "debug", "--results", str(tmp_path / "b"), "--only", "authors-hubert-s0",
                         "--no-progress", "--gpu-mem", "0.001"]) == 2
    assert not got and "one clip of 1 s needs" in capsys.readouterr().err
