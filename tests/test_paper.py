"""paper/: tables, figures and --check from a results dir written with the real run-dir conventions."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paper import check as C
from paper.collect import collect
from paper.make_tables import main
from paper.tables import Options, build
from sfi_mos.errors import InputError

from paper_fixtures import CELLS, make_results


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("paper_results")
    make_results(root, grid="dev")
    return root


@pytest.fixture(scope="module")
def tabs(results):
    return build(collect(results, "dev"), Options(bootstrap=100))


def test_cells_come_from_configs(results):
    t = collect(results).table  # the only grid present is found
    assert len(t) == len(CELLS)
    row = t[t.cell == "SFI/phase no-distill [hubert]"].iloc[0]
    assert (row.variant, row.distill, row.pretrain, row.stride_policy) == ("sfi", "no", "yes", "phase")
    row = t[t.cell == "SFI/phase no-pretrain [hubert]"].iloc[0]
    assert (row.distill, row.pretrain) == ("yes", "no")
    assert set(t[t.variant != "sfi"].distill) == {"n/a"}
    assert t.folds.iloc[0] == "0,1"


def test_ablation_table(tabs):
    a = tabs.ablation
    assert a.cell.iloc[0] == tabs.proposed == "SFI/phase [hubert]"
    # proposed has the smallest simulated error; its difference to itself is exactly 0
    assert a.utt_MSE.iloc[0] == a.utt_MSE.min()
    assert (a.iloc[0][[f"d_{k}" for k in ("utt_MSE", "sys_SRCC")]] == 0).all()
    # paired differences: other cells have worse utt LCC, with a CI around the point
    other = a.iloc[1:]
    assert (other.d_utt_LCC < 0).all()
    assert ((other.d_utt_LCC_lo <= other.d_utt_LCC) & (other.d_utt_LCC <= other.d_utt_LCC_hi)).all()
    assert ((a.utt_LCC_lo <= a.utt_LCC) & (a.utt_LCC <= a.utt_LCC_hi)).all()
    assert set(a.ci) == {"bootstrap B=100"}


def test_per_rate(tabs):
    assert sorted(set(tabs.per_rate.sample_rate)) == [16000, 24000, 48000]


def test_probe_tables(results):
    from paper import probe

    col = collect(results, "dev")
    t = build(col, Options(bootstrap=50))
    pt = probe.build(col, list(t.ablation.cell), Options(bootstrap=50))
    p = pt.probe.set_index("cell")
    # one row per cell in the ablation order, then the peers (ok and not installed), then the labels
    assert list(pt.probe.cell) == list(t.ablation.cell) + ["FAKE-MOS", "dnsmos", probe.LABEL_ROW]
    for c in ("cell", "delta", "delta_ci_low", "delta_ci_high", "pair_accuracy", "delta_hb_noise", "delta_24k"):
        assert c in pt.probe.columns
    assert p.loc["SFI/phase [hubert]", "delta"] == pytest.approx(0.3, abs=0.05)
    assert p.loc["SFI/phase [hubert]", "delta_ci_low"] > 0.2 and p.loc["SFI/phase [hubert]", "pair_accuracy"] > 0.9
    assert abs(p.loc["resample [hubert]", "delta"]) < 1e-3
    assert p.loc["dnsmos", "status"] == "not installed" and p.loc["FAKE-MOS", "role"] == "reference"
    assert p.loc[probe.LABEL_ROW, "delta"] == pytest.approx(0.4)
    f = pt.frontend.set_index("cell")
    assert set(f.index) == {c for c in t.ablation.cell if c.startswith("SFI")}
    assert f.loc["SFI/phase [hubert]", "share_init"] == 0.1 and np.isnan(f.loc["SFI/phase no-pretrain [hubert]",
                                                                               "share_pretrained"])
    peers = pt.peers.set_index("peer")
    assert peers.loc["dnsmos", "status"] == "not installed"
    assert peers.loc["FAKE-MOS", "utt_MSE"] == pytest.approx(0.25, abs=0.05)  # predictions are truth + 0.5


def test_probe_tables_absent_without_probe_runs(tmp_path):
    from paper import probe

    make_results(tmp_path, grid="dev", cells=CELLS[:2], probe=False)
    col = collect(tmp_path, "dev")
    pt = probe.build(col, list(build(col, Options(bootstrap=0)).ablation.cell), Options(bootstrap=0))
    assert pt.probe is None and pt.frontend is None and pt.peers is None
    assert any("no finished probe run" in n for n in pt.notes["probe"])


def test_leaderboard_inserts_replication(tabs):
    lb = tabs.leaderboard
    assert len(lb) == 9 and list(lb["rank"]) == [str(i) for i in range(1, 9)] + ["–"]
    mine = lb[lb.system == "this replication"].iloc[0]
    assert "not comparable" in mine.source
    assert lb.sys_SRCC.iloc[:8].is_monotonic_decreasing and lb.system.iloc[-1] == "this replication"
    t19 = lb[lb.system == "T19"].iloc[0]
    assert t19.utt_MSE == 0.238 and "inferred" in t19.inferred


def test_outputs_are_byte_identical_and_complete(results, tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["--results", str(results), "--out", str(out), "--bootstrap", "100"]) == 0
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    names = {p.name for p in files}
    for t in ("ablation", "per_rate", "leaderboard", "probe", "frontend", "peers"):
        assert {f"{t}.md", f"{t}.tex", f"{t}.csv"} <= names
    for f in ("scatter_utt", "scatter_sys", "forest_sys_srcc", "per_rate_srcc", "probe_delta", "frontend_energy"):
        assert {f"{f}.png", f"{f}.pdf"} <= names
    for rel in files:
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel
    md = (outs[0] / "ablation.md").read_text()
    for key in ("git_sha:", "packages:", "date:", "data_fingerprint: fp-dev", "grid: dev", "predict_runs:"):
        assert key in md
    tex = (outs[0] / "ablation.tex").read_text()
    assert "\\toprule" in tex and "\\textbf{" in tex and tex.startswith("% grid: dev")
    csv = pd.read_csv(outs[0] / "ablation.csv")
    assert list(csv.cell)[0] == "SFI/phase [hubert]"


def test_check_passes_on_matching_and_fails_on_perturbed(results, tmp_path, capsys):
    out = tmp_path / "ref"
    assert main(["--results", str(results), "--out", str(out), "--bootstrap", "100", "--no-figures"]) == 0
    refs = [str(out / f"{t}.csv") for t in ("ablation", "per_rate")]
    args = ["--results", str(results), "--out", str(tmp_path / "o"), "--bootstrap", "100", "--no-figures", "--check"]
    assert main(args + sum([["--reference", r] for r in refs], [])) == 0
    assert "0 outside -> ok" in capsys.readouterr().out
    # perturb one number far beyond its CI: utt LCC of the resampling baseline
    lines = (out / "ablation.csv").read_text().splitlines(keepends=True)
    head = [i for i, line in enumerate(lines) if line.startswith("cell,")][0]
    df = pd.read_csv(out / "ablation.csv")
    i = int(np.flatnonzero(df.cell == "resample [hubert]")[0])
    df.loc[i, "utt_LCC"] = df.loc[i, "utt_LCC"] - 0.5
    bad = tmp_path / "perturbed.csv"
    bad.write_text("".join(lines[:head]) + df.to_csv(index=False))
    assert main(args + ["--reference", str(bad)]) == 1
    text = capsys.readouterr().out
    assert "OUTSIDE" in text and "resample [hubert]" in text and "utt_LCC" in text
    assert f"perturbed.csv, line {head + 2 + i}" in text


def test_check_default_references(tabs):
    # synthetic data: the paper's numbers are unknown (missing, not failures), T19 is skipped
    out = C.compare(tabs, [str(p) for p in C.DEFAULT_REFERENCES], synthetic=True)
    assert not out.failed and len(out.rows) == 0
    assert len(out.missing) == 19 and any("T19" in s for s in out.skipped)
    assert "NOTHING COMPARED" in C.report(out)
    # real Track 3 data: T19 (believed MSR-UTMOS) is compared with the proposed cell
    out = C.compare(tabs, [str(p) for p in C.DEFAULT_REFERENCES], synthetic=False)
    assert set(out.rows.row) == {"SFI/phase [hubert]"} and len(out.rows) == 8


def test_check_factor_keys_and_ci_awareness(tabs, tmp_path):
    v = float(tabs.ablation.set_index("cell").loc["resample [hubert]", "utt_SRCC"])
    ref = tmp_path / "r.csv"
    ref.write_text("row,variant,distill,pretrain,teacher,stride_policy,split,utt_SRCC,utt_SRCC_lo,utt_SRCC_hi\n"
                   f"x,resample,n/a,yes,hubert,,eval,{v + 0.05:.4f},{v - 0.1:.4f},{v + 0.2:.4f}\n"
                   f"y,resample,n/a,yes,hubert,,dev,0.1,,\n")
    out = C.compare(tabs, [ref], synthetic=True)
    assert len(out.rows) == 1 and not out.failed  # within the combined CI
    assert any("split dev" in s for s in out.skipped)
    assert C.compare(tabs, [ref], synthetic=True, ci_scale=0).failed  # absolute only: 0.05 > 0.002


def test_seeds_give_t_intervals_and_unseen_rates(tmp_path):
    make_results(tmp_path, grid="dev", cells=CELLS[:2], seeds=(0, 1, 2), extra_rates=(22050,))
    t = build(collect(tmp_path, "dev"), Options(bootstrap=50))
    a = t.ablation
    assert list(a.n_reps) == [3, 3] and set(a.ci) == {"t over 3 seeds"}
    assert (a.utt_MSE_lo < a.utt_MSE).all()
    assert np.isfinite(a.iloc[1][["d_utt_MSE_lo", "d_utt_MSE_hi"]].astype(float)).all()
    pr = t.per_rate[t.per_rate.sample_rate == 22050]
    assert len(pr) == 2 and not pr.seen.any()


def test_empty_and_partial_results_are_named(tmp_path, capsys):
    assert main(["--results", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "r" / "smoke" / "predict").mkdir(parents=True)
    assert main(["--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "python -m replication.run_all --grid smoke" in err

    gd = make_results(tmp_path / "p", grid="dev", cells=CELLS[:2])
    ft = sorted((gd / "finetune").iterdir())[0]
    shutil.rmtree(ft)
    (sorted((gd / "score").iterdir())[0] / "done.json").unlink()
    with pytest.raises(InputError) as e:
        collect(tmp_path / "p")
    msg = str(e.value)
    assert f"finetune/{ft.name}" in msg and "unfinished (no done.json)" in msg
    assert "python -m replication.run_all --grid dev" in msg


def test_cells_missing_from_named_grid(tmp_path):
    # a results dir called "smoke" must hold every cell of ablations' smoke grid
    make_results(tmp_path, grid="smoke", cells=CELLS[:1])
    with pytest.raises(InputError, match=r"cell authors-resample-hubert-nopt-s0 of grid 'smoke'"):
        collect(tmp_path, "smoke")
    assert len(collect(tmp_path, "smoke", require_grid_cells=False).table) == 1


def test_inconsistent_metrics_json_is_an_error(tmp_path):
    gd = make_results(tmp_path, grid="dev", cells=CELLS[:1])
    p = next((gd / "predict").iterdir()) / "predictions.csv"
    df = pd.read_csv(p)
    df.loc[df.split == "eval", "pred"] += 0.3
    df.to_csv(p, index=False)
    with pytest.raises(InputError, match="metrics.json.*inconsistent"):
        build(collect(tmp_path, "dev"), Options(bootstrap=0))


def test_allow_partial_keeps_complete_cells(tmp_path, capsys):
    gd = make_results(tmp_path, grid="dev", cells=CELLS[:2])
    (sorted((gd / "score").iterdir())[0] / "done.json").unlink()
    args = ["--results", str(tmp_path), "--out", str(tmp_path / "o"), "--bootstrap", "20", "--no-figures"]
    assert main(args) == 2
    assert "--allow-partial" in capsys.readouterr().err
    assert main(args + ["--allow-partial"]) == 0
    cap = capsys.readouterr()
    assert "unfinished (no done.json)" in cap.err
    assert "partial grid: 2 missing or unfinished runs left out" in (tmp_path / "o" / "ablation.md").read_text()
