"""The bench dispatcher and the sfi bench module run end to end (tiny sizes: no timing asserted)."""
import json

import pytest

from sfi_mos.bench.__main__ import available, main


def test_sfi_bench_writes_all_keys(tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = main(["sfi", "--json", str(out), "--filters", "8", "--batch", "1", "--seconds",
                   "0.25", "--reps", "1", "--fit-steps", "3"])
    saved = json.loads(out.read_text())
    for key in ("sfi_eval_vs_conv", "sfi_train_vs_conv", "consistency", "fit_error",
                "policy_eval_vs_conv", "consistency_vs_16k"):
        assert key in saved and key in result
    assert set(saved["sfi_eval_vs_conv"]) == {"16000", "24000", "48000"}
    assert set(saved["consistency"]) == {"phase", "sinc", "reference", "round"}
    assert all(v > 0 for v in saved["sfi_eval_vs_conv"].values())
    assert saved["fit_error"]["steps"] == 3 and saved["fit_error"]["rel_error"] >= 0
    assert "sfi_eval_vs_conv.24000" in capsys.readouterr().out  # the printed table


def test_dispatcher_lists_and_rejects():
    assert "sfi" in available()
    with pytest.raises(ValueError, match="unknown benchmark"):
        main(["no_such_bench"])


def test_step_bench_reports_microbatch_and_bf16_ratios(tmp_path):
    out = tmp_path / "step.json"
    main(["step", "--json", str(out), "--size", "tiny", "--seconds", "0.5", "--batch", "4", "--pieces", "2",
          "--repeats", "1", "--rate", "24000"])
    saved = json.loads(out.read_text())
    for key in ("microbatch_time_ratio", "microbatch_activation_ratio", "bf16_time_ratio", "bf16_activation_ratio"):
        assert saved[key] > 0
    # two pieces hold at most the activations of one piece at a time (plus what does not scale)
    assert saved["activation_bytes"]["split"] < saved["activation_bytes"]["whole"]
    assert saved["pieces"] == 2 and saved["device"] == "cpu"
