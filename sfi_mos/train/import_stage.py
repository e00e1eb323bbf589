"""The ``import`` stage: a released SFI student (HF ``save_pretrained`` folder) as a distill run dir.

``run_all --students hubert=DIR,...`` puts one ``import/<id>`` node where an SFI cell's distillation
node would be. It writes the same ``student.pt`` a distill run leaves, so the MOS stages read it
unchanged. The run id hashes the folder's content (``sha256`` of ``config.json`` and
``model.safetensors``) and the cell's SFI layer settings, not where the folder lies; the stage refuses a folder whose files no
longer have those hashes. Layer settings that are not weights (geometry, NAF normalisation and
low-pass, max frequency) come from the cell's recipe, the weights from the folder.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..atomic import write_json
from ..errors import InputError
from ..rundir import finish, start
from ..ssl import SFIStudent, hf_format
from .configs import ImportConfig

PROVENANCE = "provenance.json"


def run(cfg: ImportConfig, run_dir: str | Path) -> None:
    run_dir = start(run_dir, cfg)
    path = Path(cfg.path)
    got = hf_format.files_sha256(path) if path.is_dir() else {}
    if got != dict(cfg.sha256):
        raise InputError(str(path), f"the released student changed since the grid was planned (sha256 {got or 'missing'} "
                                    f"!= {dict(cfg.sha256)}); rerun run_all to re-key its runs")
    hf = hf_format.read_dir(path)
    if not hf.sfi:
        raise InputError(str(path), "not an SFI student: its first conv is a plain Conv1d (no continuous_filters)")
    net, report = hf_format.to_model(hf, cfg.teacher)
    spec = dict(net.sfi_spec, stride_policy=cfg.sfi.stride_policy, naf_norm=cfg.sfi.naf_norm,
                naf_lowpass=cfg.sfi.naf_lowpass, max_freq_hz=cfg.sfi.max_freq_hz)
    student = SFIStudent(net.arch, spec)
    student.load_state_dict(net.state_dict())
    student.normalize = False  # the authors feed SFI students the raw waveform
    student.info = {"init": "released", "source": str(path), "sha256": dict(cfg.sha256),
                    "file_sfi": {k: net.sfi_spec[k] for k in ("stride_policy", "naf_norm", "naf_lowpass", "max_freq_hz")}}
    student.save(run_dir / "student.pt")
    write_json(run_dir / PROVENANCE, {"released_student": str(path), "teacher": cfg.teacher,
                                      "sha256": dict(cfg.sha256), "sfi": asdict(cfg.sfi),
                                      "file_sfi": student.info["file_sfi"], "load_report": report})
    finish(run_dir, {"released_student": str(path)})
