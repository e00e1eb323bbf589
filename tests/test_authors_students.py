"""``run_all --students``: SFI cells start from released students, with no distillation runs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ablations import graph as G
from ablations import grid as grid_mod
from authors_fixtures import save_hf, sfi_hubert
from grid_fixtures import done, fake_stages, inputs, real_data_dirs  # noqa: F401 (fake_stages: a fixture)
from replication import run_all, students
from sfi_mos.mos.backbone import build_backbone
from sfi_mos.ssl import hf_format
from sfi_mos.train import import_stage


def _released(tmp_path: Path) -> dict[str, Path]:
    return {t: save_hf(sfi_hubert(seed=i), tmp_path / f"released_{t}") for i, t in enumerate(("hubert", "wav2vec2", "wavlm"))}


def test_students_replace_distillation_and_cells_load_the_weights(tmp_path):
    torch.set_num_threads(1)
    dirs = _released(tmp_path)
    arg = ",".join(f"{t}={d}" for t, d in dirs.items())
    grid = grid_mod.get("paper")
    plain = G.build(grid, inputs())
    ins = students.attach(inputs(), grid, arg)
    graph = G.build(grid, ins)
    distilled = [n for n in graph.nodes.values() if n.stage == "distill"]
    assert distilled and all(n.config.steps == 0 for n in distilled)  # only the no-distillation controls' init
    assert not [n for n in plain.nodes.values() if n.stage == "distill" and n.config.steps > 0 and n.rel in graph.nodes]
    imports = [n for n in graph.nodes.values() if n.stage == "import"]
    # one per teacher, plus one per layer setting a factor changes (geometry, NAF norm/low-pass/max freq)
    assert {n.config.teacher for n in imports} == set(dirs)
    assert "authors-wavlm+student=teacher-s0" in graph.skipped  # a distillation-only factor is moot
    # run ids follow the files' content: other weights, other runs
    other = save_hf(sfi_hubert(seed=9), tmp_path / "other")
    regraph = G.build(grid, students.attach(inputs(), grid, f"hubert={other}"))
    assert not {n.rel for n in imports if n.config.teacher == "hubert"} & set(regraph.nodes)
    # the cells' provenance says so
    preds = [n for n in graph.nodes.values() if n.stage == "predict" and "authors-hubert-s0" in n.cells]
    assert str(dirs["hubert"]) in preds[0].config.cell["released_student"]

    # run the authors-hubert cell's import node; its fine-tuning backbone holds the released weights
    grid_dir = tmp_path / "res" / "paper"
    imp = next(n for n in imports if "authors-hubert-s0" in n.cells)
    import_stage.run(imp.config, grid_dir / imp.rel)
    ft = next(n for n in graph.nodes.values() if n.stage == "finetune" and "authors-hubert-s0" in n.cells)
    assert ft.config.backbone.student_run == imp.rel
    backbone = build_backbone(ft.config.backbone, grid_dir / ft.rel)
    released = hf_format.read_dir(dirs["hubert"]).state
    assert torch.equal(backbone.model.sfi.analog.rff.detach(), released[hf_format.K.RFF_KEY])
    assert torch.equal(backbone.model.model.encoder.layers[1].fc1.weight.detach(),
                       released["encoder.layers.1.feed_forward.intermediate_dense.weight"])
    assert backbone.model.sfi.stride_policy == "reference"


def test_dry_run_lists_replaced_distillations(tmp_path, capsys):
    dirs = _released(tmp_path)
    data = real_data_dirs(tmp_path)
    arg = ",".join(f"{t}={d}" for t, d in dirs.items())
    assert run_all.main(["--grid", "paper", "--data", data, "--results", str(tmp_path / "res"), "--dry-run",
                         "--students", arg]) == 0
    out = capsys.readouterr().out
    assert "released students:" in out and "-> not run" in out and "<- " + str(dirs["wavlm"]) in out
    assert run_all.main(["--grid", "paper", "--data", data, "--results", str(tmp_path / "res"), "--dry-run",
                         "--students", f"hubert={tmp_path}"]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_import_refuses_changed_files(tmp_path):
    d = save_hf(sfi_hubert(seed=1), tmp_path / "s")
    cfg = students.attach(inputs(), grid_mod.get("smoke"), f"hubert={d}").students["hubert"]
    (d / "config.json").write_text((d / "config.json").read_text() + " ")
    try:
        import_stage.run(dataclasses.replace(cfg), tmp_path / "res" / "g" / "import" / "x")
    except Exception as e:
        assert "changed since the grid was planned" in str(e)
    else:
        raise AssertionError("a changed folder was imported")


def test_run_all_with_students_runs_import_instead_of_distill(tmp_path, fake_stages, capsys):
    """The launcher runs the real import stage (the others are stand-ins) and no distillation."""
    d = save_hf(sfi_hubert(seed=2), tmp_path / "released")
    res = tmp_path / "res"
    assert run_all.main(["--grid", "smoke", "--results", str(res), "--no-progress", "--students", f"hubert={d}"]) == 0
    finished = done(res / "smoke")
    assert not [r for r in finished if r.startswith("distill/")]
    imports = [r for r in finished if r.startswith("import/")]
    assert len(imports) == 1 and finished[imports[0]]["released_student"] == str(d.resolve())
    student = torch.load(res / "smoke" / imports[0] / "student.pt", weights_only=True)
    assert torch.equal(student["state_dict"]["model.feature_extractor.conv_layers.0.0.analog.rff"],
                       hf_format.read_dir(d).state[hf_format.K.RFF_KEY])
