"""The committed fixture (real smoke-grid output) regenerates the committed tables byte for byte."""
from __future__ import annotations

from paper.make_tables import main

from paper_fixtures import FIXTURE_ARGS, FIXTURE_DIR, FIXTURE_EXPECTED


def test_fixture_regenerates_tables_byte_identically(tmp_path):
    assert main(["--results", str(FIXTURE_DIR), "--out", str(tmp_path), *FIXTURE_ARGS]) == 0
    expected = sorted(p.name for p in FIXTURE_EXPECTED.iterdir() if p.is_file())
    assert {"ablation.md", "ablation.tex", "ablation.csv", "leaderboard.md", "per_rate.csv"} <= set(expected)
    for name in expected:
        assert (tmp_path / name).read_bytes() == (FIXTURE_EXPECTED / name).read_bytes(), name


def test_fixture_check_against_expected(tmp_path, capsys):
    refs = ["--reference", str(FIXTURE_EXPECTED / "ablation.csv"), "--reference", str(FIXTURE_EXPECTED / "per_rate.csv")]
    assert main(["--results", str(FIXTURE_DIR), "--out", str(tmp_path), *FIXTURE_ARGS, "--check", *refs]) == 0
    assert "0 outside -> ok" in capsys.readouterr().out


def test_every_csv_reads_with_default_pandas_options(tmp_path):
    """Tables and the run files under the (real smoke-grid) fixture: one header row, no comment lines."""
    import json

    import pandas as pd

    assert main(["--results", str(FIXTURE_DIR), "--out", str(tmp_path), *FIXTURE_ARGS]) == 0
    tables = sorted(tmp_path.glob("*.csv"))
    assert {p.stem for p in tables} >= {"ablation", "per_rate", "leaderboard", "deviations", "probe"}
    for path in [*tables, *sorted(FIXTURE_DIR.rglob("*.csv"))]:
        df = pd.read_csv(path)
        assert len(df.columns) > 1 and not any(str(c).startswith("#") for c in df.columns), path
        assert not df.iloc[:, 0].astype(str).str.startswith("#").any(), path
    for path in tables:  # the provenance the CSV no longer carries
        meta = json.loads(path.with_suffix(".meta.json").read_text())
        assert meta["table"] == path.stem and meta["columns"] == list(pd.read_csv(path).columns)
        assert meta["environment"]["grid"] == "smoke" and meta["environment"]["predict_runs"]
