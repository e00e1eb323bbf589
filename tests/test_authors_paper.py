"""The reviewers' path: the authors' checkpoint scores Track 3 eval, and paper.make_tables puts the
result beside the published leaderboard, labelled as an imported model."""
from __future__ import annotations

import pandas as pd
import torch

from authors_fixtures import TINY, authors_ckpt, head_tensors, save_hf, sfi_hubert
from data_fixtures import make_track3
from paper.make_tables import main as tables_main
from paper_fixtures import make_results
from sfi_mos.predict.__main__ import main as predict_main


def test_reviewers_path(tmp_path, capsys):
    torch.set_num_threads(1)
    t3 = tmp_path / "track3"
    info = make_track3(t3, n_eval=3)
    hf = sfi_hubert(seed=4)
    ssl = save_hf(hf, tmp_path / "ssl")
    ckpt = authors_ckpt(tmp_path / "model.ckpt", hf, False, "Wataru/sfi_hubert_distill_ears",
                        head_tensors(TINY["hidden_size"], False))
    preds = tmp_path / "preds.csv"
    assert predict_main(["--model", f"authors:{ckpt}", "--ssl", str(ssl), str(t3 / "DATA" / "wav"),
                         "--out", str(preds), "--device", "cpu"]) == 0
    assert len(pd.read_csv(preds)) == len(info["train"]) + len(info["eval"])
    out = tmp_path / "tables"
    assert tables_main(["--only-imported", "--imported", f"authors-ckpt={preds}", "--track3", str(t3),
                        "--bootstrap", "20", "--out", str(out)]) == 0
    board = pd.read_csv(out / "leaderboard.csv", comment="#")
    row = board[board.system == "imported model"]
    assert list(row.label) == ["authors-ckpt"]
    assert row.note.iloc[0] == f"{len(info['eval'])} eval utterances"
    assert "computed here from an imported model" in (out / "leaderboard.md").read_text()
    assert len(board) == len(pd.read_csv("paper/data/leaderboard_track3.csv")) + 1
    # unlabelled predictions without --track3: one named error
    assert tables_main(["--only-imported", "--imported", str(preds), "--out", str(out)]) == 2
    assert "pass --track3" in capsys.readouterr().err


def test_imported_row_beside_the_replication(tmp_path):
    make_results(tmp_path / "res", grid="dev")
    labelled = next((tmp_path / "res" / "dev" / "predict").glob("*/predictions.csv"))
    out = tmp_path / "paper"
    assert tables_main(["--results", str(tmp_path / "res"), "--grid", "dev", "--bootstrap", "0", "--no-figures",
                        "--allow-partial", "--imported", f"released={labelled}", "--out", str(out)]) == 0
    board = pd.read_csv(out / "leaderboard.csv", comment="#")
    assert {"this replication", "imported model"} <= set(board.system)
    assert list(board[board.system == "imported model"].label) == ["released"]
