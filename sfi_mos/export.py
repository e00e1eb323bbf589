"""``python -m sfi_mos.export``: our trained models in the authors' two formats.

    python -m sfi_mos.export --student DISTILL_RUN --out DIR     # HF save_pretrained folder
    python -m sfi_mos.export --mos MOS_RUN --out MODEL.ckpt      # Lightning checkpoint + MODEL.ssl/

The folder is what ``transformers.AutoModel.from_pretrained`` reads (for an SFI student: HF key
names with the SFI layer under ``feature_extractor.conv_layers.0.conv``; its config carries our
layer settings as ``sfi_mos_sfi``). The checkpoint is what msr-utmos ``SSLMOSLightningModule.
load_from_checkpoint`` reads; its ``ssl_model_path`` and ``processor_path`` name the folder written
beside it. ``sfi_mos.mos.authors_format`` and ``sfi_mos.ssl.hf_format`` read both back unchanged.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .atomic import check_writable
from .errors import InputError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sfi_mos.export", description=__doc__.split("\n\n")[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--student", type=Path, metavar="DISTILL_RUN", help="a distill (or import) run dir (student.pt)")
    what.add_argument("--mos", type=Path, metavar="MOS_RUN", help="a finished pretrain/finetune run dir (best.pt)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (--student) or .ckpt file (--mos)")
    args = ap.parse_args(argv)
    try:
        if args.student is not None:
            # lazy (here and below): torch and the model code take seconds; --help and argument errors do not wait
            from .ssl import SFIStudent  # lazy, as above
            from .ssl.hf_format import write_dir  # lazy, as above

            check_writable(args.out, "dir", "--out")
            student = SFIStudent.load(args.student / "student.pt")
            hashes = write_dir(student, args.out)
            print(f"wrote {args.out} ({', '.join(f'{k} sha256 {v[:12]}' for k, v in hashes.items())})")
        else:
            from .mos.authors_format import export_lightning  # lazy, as above
            from .mos.checkpoint import load_run  # lazy, as above

            check_writable(args.out, "file", "--out")
            model, meta = load_run(args.mos)
            out = export_lightning(model, args.out, train_listeners=meta.get("train_listeners", []),
                                   epoch=int(meta.get("epoch") or 0), global_step=int(meta.get("step") or 0))
            print(f"wrote {out} and {out.with_name(out.stem + '.ssl')}")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
