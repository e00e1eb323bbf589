"""Grid costs: the rehearsal (every kind at tiny size; one cell at base size, slow), the extrapolation
arithmetic against hand-computed numbers, and the cost lines of ``run_all --dry-run [--costs]``."""
from __future__ import annotations

import dataclasses

import json
import re

import pytest

from ablations import graph as G
from ablations import grid as grid_mod
from replication import costs
from sfi_mos.errors import InputError

from grid_fixtures import inputs, real_data_dirs


# --- arithmetic ---------------------------------------------------------------------------------------
def test_extrapolation_matches_hand_computed_fixture():
    # activations of a pass: c + clips * (d + a L + b L^2) with c = 1000, d = 10, a = 300, b = 20 B
    act = lambda clips, s: 1000 + clips * (10 + 300 * s + 20 * s * s)  # noqa: E731
    a = {"clips": 1, "clip_s": 2.0, "clips_per_step": 1, "step_s": 3.0, "peak": 10 ** 6, "saved": act(1, 2.0)}
    b = {"clips": 2, "clip_s": 2.0, "clips_per_step": 2, "step_s": 5.0, "peak": 2 * 10 ** 6, "saved": act(2, 2.0)}
    short = [{"clips": 1, "clip_s": s, "clips_per_step": 1, "step_s": 2.0, "peak": 0, "saved": act(1, s)}
             for s in (1.0, 1.5)]
    paper = {"clips": 8, "clip_s_max": 20.0, "clip_s_mean": 10.0, "clips_per_step": 8}
    ex = costs.extrapolate(a, [b, *short], paper)
    # time: 3 s at 2 audio-s, 5 s at 4 audio-s -> 1 s + 1 s per audio-s; paper step = 8 x 10 s = 80 audio-s
    assert ex["step_s"] == pytest.approx(81.0)
    assert ex["time_fit"] == {"intercept_s": pytest.approx(1.0), "s_per_audio_s": pytest.approx(1.0)}
    # memory: the main run's peak (1 MB, used once) + the activations' growth to 8 clips of 20 s:
    # 1000 + 8 x (10 + 6000 + 8000) = 113 080 B, minus the 1000 + 10 + 600 + 80 = 1690 B measured
    assert ex["memory_fit"]["terms"] == "cdab"
    assert ex["memory_fit"]["activation_bytes_paper"] == pytest.approx(113_080)
    assert ex["peak"] == pytest.approx(10 ** 6 + 113_080 - 1690)
    assert {k: ex["memory_fit"][k] for k in ("c_bytes", "bytes_per_clip", "bytes_per_clip_s", "bytes_per_clip_s2")} \
        == pytest.approx({"c_bytes": 1000, "bytes_per_clip": 10, "bytes_per_clip_s": 300, "bytes_per_clip_s2": 20})
    assert ex["memory_fit"]["warning"] is None
    odd = costs.extrapolate(a, [b, {**short[0], "saved": act(1, 1.0) - 500}, short[1]], paper)
    assert odd["memory_fit"]["bytes_per_clip_s2"] < 0 and "loads disagree" in odd["memory_fit"]["warning"]
    # fewer clip lengths: fewer terms, named in the fit (one length: linear in audio seconds, a lower bound)
    assert costs.extrapolate(a, [b, short[0]], paper)["memory_fit"]["terms"] == "cab"
    lin = costs.extrapolate(a, [b], paper)
    assert lin["memory_fit"]["terms"] == "ca" and lin["peak"] < ex["peak"]
    one = costs.extrapolate(a, [], paper)  # one size: time in proportion, memory not extrapolated
    assert one["step_s"] == pytest.approx(3.0 * 80 / 2) and one["peak"] is None
    noisy = costs.extrapolate(a, [{**b, "step_s": 2.0}], paper)  # a negative slope is noise: proportional to b
    assert noisy["step_s"] == pytest.approx(2.0 / 4 * 80)
    plan = {"steps": 10, "epochs": 2, "val_clips": 5}
    assert costs.run_seconds(plan, {"fixed_s": 7.0, "step_s": 1.5, "val_clip_s": 0.2}) == pytest.approx(24.0)
    assert costs.mem_bytes("64G") == 64 * 2 ** 30 and costs.mem_bytes("500M") == 500 * 2 ** 20
    assert costs.mem_bytes("4096") == 4096 * 2 ** 20 and costs.mem_bytes(None) is None
    with pytest.raises(InputError, match="memory request"):
        costs.mem_bytes("lots")


def test_paper_loads_follow_the_batch_packing():
    from replication.rehearse_report import paper_load

    g = grid_mod.get("paper")
    grouped = lambda cfg: dataclasses.replace(cfg, batching="grouped")  # noqa: E731
    # grouped: 32 ratings = 4 BVCC clips of 8 ratings per pass; 64 ratings = 8 clips per step
    pre = paper_load("pretrain", grouped(g.pretrain))
    assert (pre["clips"], pre["clips_per_step"], pre["clip_s_max"]) == (4, 8, costs.CORPUS_SIZES["bvcc"].max_s)
    # the authors' rating rows: every rating row is its own clip pass (32 per batch, 64 per step)
    pre = paper_load("pretrain", g.pretrain)
    assert (pre["clips"], pre["clips_per_step"]) == (32, 64)
    # finetune grouped: batch 1 rating still holds one whole clip (10 ratings); 24 ratings -> 3 clips per step
    ft = paper_load("finetune", grouped(g.finetune))
    assert (ft["clips"], ft["clips_per_step"], ft["clip_s_max"]) == (1, 3, 6.85)
    ft = paper_load("finetune", g.finetune)  # rows: 1 per pass, 24 per step
    assert (ft["clips"], ft["clips_per_step"]) == (1, 24)
    d = paper_load("distill", g.distill)
    assert (d["clips"], d["clip_s_max"], d["clip_s_mean"], d["fit_steps"]) == (8, 20.0, 20.0, 300)


# --- activation memory: exact counting, and the fit's form on the real architectures ------------------------
def test_rehearsal_crops_fill_even_frame_counts():
    from replication.costs import fit_crop

    for seconds in (0.75, 1.25, 2.2, 0.3725, 0.05, 20.0):
        crop = fit_crop(seconds)
        frames = (crop * 16000 - 400) / 320 + 1  # the conv stack's receptive field 400, hop 320
        assert crop <= max(seconds, 0.045) and frames == int(frames) and int(frames) % 2 == 0
        assert fit_crop(crop) == crop and seconds - crop < 0.04 + 1e-9


def test_saved_bytes_counts_activations_exactly_once_per_buffer():
    import torch

    from replication.measure import SavedBytes

    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.Linear(256, 64))
    got = []
    for batch in (4, 8, 4):
        sb = SavedBytes(torch)
        with sb:
            x = torch.randn(batch, 10, 64)
            mlp(x).pow(2).mean().backward()
        got.append((sb.peak, sb.now))
    # per row of 10 frames: x (64) for the first weight's gradient, the GELU input and output (256 each)
    # and the pow input (64), float32; the weights are parameters, not activations
    per_clip = 10 * (64 + 256 + 256 + 64) * 4
    assert got == [(4 * per_clip, 0), (8 * per_clip, 0), (4 * per_clip, 0)]  # freed after backward
    sb = SavedBytes(torch)
    with sb:  # two views of one buffer: one storage
        x = torch.randn(8, 32, requires_grad=True) * 1.0
        (x[:4] * x[4:]).sum().backward()
    assert sb.peak == 8 * 32 * 4


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm"])
def test_activation_fit_from_short_clips_predicts_long_clips(kind):
    """Fitted from four loads of sub-second clips of whole even frame counts (as a rehearsal crops, see
    ``costs.fit_crop``), the activations of 6.85 and 10 s clips of the real architectures (tiny widths)
    come out within 2 %."""
    import torch

    from replication.measure import SavedBytes
    from sfi_mos.ssl.arch import build
    from sfi_mos.ssl.checkpoints import tiny_arch
    from sfi_mos.ssl.encode import encode
    from sfi_mos.ssl.teacher import _first_conv_lengths

    torch.manual_seed(0)
    model = build(tiny_arch(kind)).train()
    model.encoder.layerdrop = 0.0  # replication.measure.NoLayerDrop: every layer runs

    def saved(clips, seconds):
        sb = SavedBytes(torch)
        with sb:
            hs, _ = encode(model, torch.randn(clips, int(seconds * 16000)), None, _first_conv_lengths)
            hs[-1].mean().backward()
        return sb.peak

    fit = costs.activation_fit([{"clips": c, "clip_s": s, "saved": saved(c, s)}
                                for c, s in ((2, 0.725), (4, 0.725), (2, 0.365), (2, 0.525))])
    assert fit["terms"] == "cdab" and fit["bytes_per_clip_s2"] > 0  # attention: quadratic in length
    for clips, seconds in ((1, 10.0), (2, 6.85)):
        assert fit["predict"](clips, seconds) == pytest.approx(saved(clips, seconds), rel=0.02)


# --- the grid's steps and costs -----------------------------------------------------------------------
def _rows(text: str) -> dict[str, list[str]]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(distill|pretrain|finetune|predict|score|all)\s+(\d+)\s+(.*)$", line)
        if m:
            out[m.group(1)] = [m.group(2)] + re.split(r"\s{2,}", m.group(3).strip())
    return out


def _fake_rehearsal() -> dict:
    return {"format": costs.FORMAT, "device": "cpu", "torch_threads": 2, "size": "base", "steps": 2, "costs": {
        "distill": {"authors": {"fixed_s": 100.0, "step_s": 0.5, "run_bytes": 10 ** 9},
                    "authors-nokd": {"fixed_s": 50.0, "step_s": 0.0, "run_bytes": 5 * 10 ** 8}},
        "pretrain": {"authors": {"fixed_s": 0.0, "step_s": 1.0, "val_clip_s": 0.1, "run_bytes": 2 * 10 ** 9}},
        "score": {"authors": {"fixed_s": 0.0, "step_s": 36.0, "run_bytes": 1000}}}}


def test_cost_lines_of_the_paper_grid_by_hand():
    grid = grid_mod.get("paper")
    graph = G.build(grid, inputs())  # corpus roots that do not exist: documented sizes stand in
    cells = {c.name: c for c in grid.cells}
    text = costs.dry_run_lines(graph, cells, costs.Path("/nonexistent"))
    assert "documented sizes of bvcc, track3" in text
    rows = _rows(text)
    # 12 distillations of 200k steps, 2 "no distillation" controls (encoder copy, full copy) of 0
    assert rows["distill"][:3] == ["14", "0 / 200,000", "2,400,000"]
    # BVCC: 4974 clips x 8 ratings = 39,792 rating rows. The authors' SFI pre-training, 32 rows x 2: 1243
    # full batches and one of 16 rows, which always joins a 3-batch step -> 622 steps per epoch. Their
    # non-SFI one, 64 x 1: 621 full batches and one of 48 rows, which joins the next batch into one
    # step unless it comes last (1 epoch in 622) -> 621 or 622. The capped ablation: 50 x 622.
    assert rows["pretrain"][:2] == ["23", "31,100 / 621,005 / 622,000"]
    # predict: 7 fold models x (400 dev + 400 eval clips)
    assert rows["predict"][:3] == ["37", "5,600", f"{37 * 5600:,}"]
    # finetune, rating rows, 1 x 24: a fold trains on 342 or 343 clips = 3420 or 3430 rows -> 143 steps
    # per epoch either way; grouped (suite, and the batching ablation): clips of 10 ratings, 3 per step ->
    # 114 or 115 steps; 50 epochs each
    corpora, plans = costs.Corpora(costs.Path("/nonexistent")), {}
    for n in graph.nodes.values():
        if n.stage == "finetune" and n.cells[0] in ("authors-hubert-s0", "suite-hubert-s0"):
            plans.setdefault(n.cells[0], []).append(costs.node_plan("finetune", n.config, corpora))
    for name, per_epoch in (("authors-hubert-s0", lambda n: 143), ("suite-hubert-s0", lambda n: -(-n // 3))):
        assert len(plans[name]) == 7 and sum(p["val_clips"] for p in plans[name]) == 400
        assert all(p["steps"] == 50 * per_epoch(400 - p["val_clips"]) for p in plans[name])
    assert rows["finetune"][:2] == ["259", "5,700 / 5,750 / 7,150"]

    priced = costs.dry_run_lines(graph, cells, costs.Path("/nonexistent"), _fake_rehearsal())
    rows = _rows(priced)
    # distill: 12 x (100 s + 200000 x 0.5 s) + 2 x 50 s = 1 201 300 s = 333.7 h; 12 x 1 GB + 2 x 0.5 GB
    assert rows["distill"][3:5] == ["333.7", "13.0 GB"]
    assert rows["score"][3:5] == [f"{37 * 36 / 3600:,.1f}", "37.0 KB"]
    assert rows["finetune"][3] == "-"  # no rehearsal of that stage: no estimate, and no total
    # the total leaves the stages without figures out, says which, and marks itself a lower bound
    known = sum(float(rows[st][3].replace(",", "")) for st in ("distill", "pretrain", "score"))
    assert rows["all"][1].endswith("+") and float(rows["all"][1][:-1].replace(",", "")) == pytest.approx(known, abs=0.2)
    assert "not in the device-hours total (no rehearsal figures): finetune, predict, probe, peers" in priced
    assert "CPU times" in priced and "NOT GPU hours" in priced and "authors-resample<-authors" in priced


def test_run_all_dry_run_prints_costs(tmp_path, capsys):
    from replication import run_all

    data = real_data_dirs(tmp_path)
    rehearsal = tmp_path / "rehearsal.json"
    rehearsal.write_text(json.dumps(_fake_rehearsal()))
    argv = ["--grid", "paper", "--only", "authors-hubert-s0", "--data", data, "--results",
            str(tmp_path / "res"), "--dry-run"]
    assert run_all.main(argv) == 0
    rows = _rows(capsys.readouterr().out.split("cost of grid")[1])
    assert rows["finetune"][0] == "7" and rows["distill"][:3] == ["1", "200,000", "200,000"]
    assert run_all.main(argv + ["--costs", str(rehearsal)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^distill\s+1\s+200,000\s+200,000\s+27\.8\s+1\.0 GB", out, re.M)  # (100 + 1e5 s) / 3600
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert run_all.main(argv + ["--costs", str(bad)]) == 2
    assert "not a rehearsal result" in capsys.readouterr().err
    assert run_all.main(argv[:-1] + ["--costs", str(rehearsal)]) == 2
    assert "only used with --dry-run" in capsys.readouterr().err


def test_profile_checks_warn_when_a_request_is_too_small():
    from replication.rehearse_report import profile_checks

    grid = grid_mod.get("paper")
    out = {"assumed_gpu_speedup": None, "costs": {"distill": {"sfi": {"peak_rss_bytes_measured": 10 * 2 ** 30}},
                                                 "score": {"sfi": {"peak_rss_bytes_measured": 9 * 2 ** 30}}},
           "grid_totals": {"distill": {"runs": 12, "max_run_hours": 30.0},
                           "score": {"runs": 33, "max_run_hours": 0.1}}}
    ci = profile_checks("ci", grid, out, cuda=False)  # CPU partition: CPU measurements compare
    assert any(x.startswith("WARNING distill") and "1 requeue(s)" in x for x in ci)
    ex = profile_checks("example", grid, out, cuda=False)
    assert any(x.startswith("distill: not checked") for x in ex)  # a GPU stage vs a CPU rehearsal
    assert "WARNING score: host memory need 9.0 GiB vs --mem 8G" in ex
    assumed = profile_checks("example", grid, {**out, "assumed_gpu_speedup": 1.0}, cuda=False)
    assert any("ASSUMED 1.0x" in x and "WARNING distill" in x for x in assumed)
    out["grid_totals"]["distill"]["max_run_hours"] = 200.0
    assert any("it will fail" in x for x in profile_checks("ci", grid, out, cuda=False))


# --- rehearsals -------------------------------------------------------------------------------------------
def _check_rehearsal(doc: dict, kinds: set[str], steps: int) -> None:
    assert doc["format"] == costs.FORMAT and "NOT pretrained" in doc["weights"]
    assert {c["kind"] for c in doc["cells"]} == kinds
    for cell in doc["cells"]:
        stages = {r["stage"]: r for r in cell["stages"]}
        assert set(stages) == ({"pretrain", "finetune", "predict", "score", "probe"}
                               | ({"distill"} if "resample" not in cell["kind"] else set()))
        for stage, rec in stages.items():
            assert "error" not in rec, (cell["cell"], stage, rec.get("error"))
            m = rec["measured"]
            assert m["wall_s"] > 0 and m["peak_rss_bytes"] > 0 and rec["run_bytes"] > 0
            changed = {c["field"]: c for c in rec["changes"]}
            assert all(c["why"] for c in rec["changes"]), rec["changes"]
            if stage in ("pretrain", "finetune"):
                assert m["steps"] == steps and changed["max_steps"]["rehearsal"] == steps
                assert 0 < m["trainable_params"] <= m["params"] and m["optimizer_state_bytes"] > 0
                assert "max_epochs" not in changed  # the step cap alone ends the run
            if stage == "distill":
                kd = not cell["kind"].endswith("nokd")
                assert m["steps"] == (steps if kd else 0)
                assert ("steps" in changed) == kd and changed["fit_steps"]["rehearsal"] == steps
            if stage == "predict":
                assert changed["runs"]["grid"] == "7 fold models"
    for stage in ("pretrain", "finetune", "predict", "score"):
        assert set(doc["costs"][stage]) == kinds
    assert sum(t["runs"] for t in doc["grid_totals"].values()) == 408  # 370 + a probe per cell + peers


@pytest.fixture(scope="module")
def rehearsal_root(tmp_path_factory):
    """One results root for the tiny rehearsals: they share its synthetic corpus and teacher files (made
    once; each rehearsal removes its own run dirs and reruns every stage it measures)."""
    return tmp_path_factory.mktemp("rehearsals")


def test_tiny_rehearsal_of_every_kind(tmp_path, capsys, rehearsal_root):
    from replication import rehearse

    out = tmp_path / "rehearsal.json"
    assert rehearse.main(["--size", "tiny", "--steps", "1", "--no-fit", "--in-process", "--results",
                          str(rehearsal_root), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    _check_rehearsal(doc, {"authors", "authors-nokd", "authors-resample", "authors-resample_sr", "suite"}, 1)
    printed = capsys.readouterr().out
    assert "| kind | cell | stage |" in printed and "cost of grid paper" in printed
    assert not list((rehearsal_root / "rehearse-paper-tiny").glob("*/*/done.json"))  # run dirs removed


def test_identical_stage_configs_extrapolate_to_identical_activations(tmp_path, rehearsal_root):
    """The SFI cell and its no-distillation control share their pre-training and fine-tuning configs:
    their fitted activations at the paper's load are equal to the byte (RSS noise enters once, unscaled)."""
    from replication import rehearse

    out = tmp_path / "rehearsal.json"
    assert rehearse.main(["--size", "tiny", "--steps", "1", "--only", "authors-wav2vec2-s0,authors-*nokd*",
                          "--in-process", "--results", str(rehearsal_root), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    for stage in ("pretrain", "finetune"):
        fits = {k: doc["costs"][stage][k]["memory_fit"] for k in ("authors", "authors-nokd")}
        assert all(f["terms"] == "cdab" and f["points"] == 4 for f in fits.values())
        assert fits["authors"]["activation_bytes_paper"] == fits["authors-nokd"]["activation_bytes_paper"]
        assert fits["authors"]["activation_bytes_paper"] > 2 * fits["authors"]["activation_bytes_measured"]
        peaks = [doc["costs"][stage][k]["step_peak_bytes"] for k in ("authors", "authors-nokd")]
        assert abs(peaks[0] - peaks[1]) < 0.25 * 2 ** 30
    recs = {(c["kind"], r["stage"]): r for c in doc["cells"] for r in c["stages"]}
    pre = recs[("authors", "pretrain")]
    assert [f["varies"] for f in pre["fit_runs"]] == ["batch", "clip length", "clip length"]
    assert any(c["field"] == "LayerDrop" and c["rehearsal"] == 0.0 for c in pre["changes"])


def test_rehearsal_with_a_gpu_budget_reports_micro_batches(tmp_path, capsys, rehearsal_root):
    """``--gpu-mem``: per training stage and kind, the micro-batch that fits from the rehearsal's activation
    fit, and the CPU footprint's step memory at the paper's load in fp32 and bf16."""
    from replication import rehearse

    out = tmp_path / "rehearsal.json"
    assert rehearse.main(["--size", "tiny", "--steps", "1", "--only", "authors-hubert-s0", "--in-process",
                          "--results", str(rehearsal_root), "--json", str(out), "--gpu-mem", "0.25"]) == 0
    doc = json.loads(out.read_text())
    for stage in ("distill", "pretrain", "finetune"):
        g = doc["costs"][stage]["authors"]["gpu"]
        assert g["budget_gib"] == 0.25 and 1 <= g["micro_batch"] <= g["clips_per_pass"]
        assert 0 < g["footprint_step_gib"]["fp32"] and 0 < g["footprint_step_gib"]["bf16"]
        assert g["source"] == "rehearsal activation fit + CPU footprint static memory"  # a CPU rehearsal
    # the paper's 32 rating rows of 10 s per pass do not all fit a quarter GiB, even at tiny size
    assert doc["costs"]["pretrain"]["authors"]["gpu"]["micro_batch"] < 32
    printed = capsys.readouterr().out
    assert "### GPU memory budget 0.25 GiB per task" in printed
    assert re.search(r"^\| pretrain \| authors \| \d+ \| 32 \|", printed, re.M)


@pytest.mark.slow
def test_base_size_rehearsal_of_one_cell(tmp_path):
    """One SFI cell (every stage) at the real Base size for one step, in fresh processes."""
    from replication import rehearse

    out = tmp_path / "rehearsal.json"
    assert rehearse.main(["--size", "base", "--steps", "1", "--only", "authors-hubert-s0", "--results",
                          str(tmp_path / "res"), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    _check_rehearsal(doc, {"authors"}, 1)
    distill = doc["cells"][0]["stages"][0]["measured"]
    assert distill["trainable_params"] > 90e6  # a Base model, not a tiny one
    assert doc["costs"]["distill"]["authors"]["memory_fit"]["terms"] == "cdab"  # batch and length were fitted
