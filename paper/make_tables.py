"""``python -m paper.make_tables``: tables (Markdown, LaTeX, CSV) and figures from ``results/<grid>/``.

    python -m paper.make_tables [--results DIR] [--grid NAME] [--out DIR] [--split eval]
                                [--bootstrap 1000] [--check [--reference FILE ...]]

Default output: ``<results>/<grid>/paper/``. Exit status: 0, 1 when ``--check`` finds values outside
tolerance, 2 on bad input (missing or partial results, named with the command that fixes them).
"""
from __future__ import annotations

import sys
from pathlib import Path

from sfi_mos.atomic import check_writable, write_text
from sfi_mos.cli import Parser, float_in_range, int_in_range, refuse_overwrite
from sfi_mos.errors import InputError
from sfi_mos.metrics.bootstrap import MAX_DRAWS

from . import check as C
from . import imported, probe, render
from .collect import collect
from .tables import Options, build, is_synthetic, leaderboard


def parser() -> Parser:
    p = Parser(prog="python -m paper.make_tables", description=__doc__.split("\n")[0])
    p.add_argument("--results", default="results", help="results root (default: ./results)")
    p.add_argument("--grid", default=None, help="grid name (default: the only grid present, else 'default')")
    p.add_argument("--out", default=None, help="output dir (default: <results>/<grid>/paper)")
    p.add_argument("--split", default="eval", help="labelled split to evaluate (default: eval)")
    p.add_argument("--bootstrap", type=int_in_range(0, MAX_DRAWS, "bootstrap", "its memory grows with it"), default=1000,
                   help=f"bootstrap draws for CIs (default: 1000, at most {MAX_DRAWS})")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument("--proposed", default=None, help="cell label of the proposed system (default: the "
                   "replication, i.e. the authors' recipe: SFI, distilled, pre-trained, their 'reference' "
                   "stride geometry, HuBERT teacher; in a grid without it, the SFI distilled pre-trained cell, "
                   "preferring the phase policy and a HuBERT teacher)")
    p.add_argument("--manifest", default=None, help="synthetic corpus manifest.csv (default: found next to "
                   "the corpus the runs used)")
    p.add_argument("--allow-partial", action="store_true", help="do not require every cell of the named grid")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--check", action="store_true", help="compare with reference files; exit 1 when outside")
    p.add_argument("--reference", action="append", default=None, help="reference CSV (repeatable; default: "
                   "paper/data/paper_reported.csv and paper/data/leaderboard_track3.csv)")
    p.add_argument("--ci-scale", type=float_in_range(0, 1000, "--ci-scale"), default=1.0,
                   help="multiplier of the CI part of the tolerance")
    p.add_argument("--imported", action="append", default=[], metavar="[LABEL=]PREDS.csv",
                   help="an imported model's predictions (sfi_mos.predict output), a labelled leaderboard row "
                   "(repeatable; docs/authors_models.md)")
    p.add_argument("--track3", default=None, metavar="DIR", help="Track 3 folder whose labels --imported joins")
    p.add_argument("--only-imported", action="store_true",
                   help="write only the leaderboard with the --imported rows (no grid results needed)")
    return p


def _only_imported(a, opt: Options) -> int:
    """The reviewers' path: published leaderboard + imported rows, without any trained results."""
    if not opt.imported:
        raise InputError("--only-imported", "needs at least one --imported file")
    out = Path(a.out or Path(a.results) / "imported")
    check_writable(out, "dir", "--out")
    board = leaderboard(None, None, opt)
    env = {"imported": ", ".join(src for _, _, src in opt.imported), "split": opt.split,
           "bootstrap": f"B={opt.bootstrap}, seed={opt.seed}"}
    md = render.markdown("leaderboard", board, env, [])
    written = render.write_table(out, "leaderboard", board, env, [], render.CAPTIONS["leaderboard"], md,
                                 render.latex("leaderboard", board, env, []))
    print(md.split("## Environment")[0].rstrip())
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if a.reference and not a.check:
        ap.error("--reference is only read with --check (add --check, or drop --reference)")
    sys.stdout.reconfigure(errors="backslashreplace")  # paths that are not UTF-8 are still printable
    try:
        return _main(a)
    except KeyboardInterrupt:  # every file is written atomically: each is the old one or the new one
        print("\ninterrupted: rerun the same command to write every table", file=sys.stderr)
        return 130


def _main(a) -> int:
    try:
        if a.out:
            check_writable(a.out, "dir", "--out")
        refs = (a.reference or [str(p) for p in C.DEFAULT_REFERENCES]) if a.check else []
        for ref in refs:  # a bad reference is found before minutes of bootstrap, not after
            C.read_reference(ref)
        opt = Options(split=a.split, bootstrap=a.bootstrap, seed=a.seed, proposed=a.proposed, manifest=a.manifest,
                      imported=[imported.read(spec, a.track3) for spec in a.imported])
        if a.only_imported:
            return _only_imported(a, opt)
        col = collect(a.results, a.grid, require_grid_cells=not a.allow_partial)
        out = Path(a.out) if a.out else col.grid_dir / "paper"
        # the tables never go inside a run dir or a corpus the runs read, nor next to a file read
        refuse_overwrite({}, inputs=[*refs, *([a.manifest] if a.manifest else [])],
                         corpora=[r.path for stage in col.runs.values() for r in stage.values()]
                         + [col.grid_dir / "data", *sorted(set(col.table.get("data_root", [])))], out_dirs={"--out": out, "--out (figures)": out / "figures"})
        check_writable(out, "dir", "--out")
        tabs = build(col, opt)
        if col.skipped:
            tabs.notes["ablation"] = f"partial grid: {len(col.skipped)} missing or unfinished runs left out"
            print("warning: --allow-partial left out:\n  - " + "\n  - ".join(col.skipped), file=sys.stderr)
        env = render.environment(col, opt, tabs)
        written = render.write_all(tabs, env, out)
        ptabs = probe.build(col, list(tabs.ablation.cell), opt)  # the high-band probe (own tables)
        written += probe.write_all(ptabs, env, out)
        if not a.no_figures:
            from . import figures, probe_figures  # matplotlib: only when figures are drawn

            written += figures.write_all(tabs, out / "figures")
            written += probe_figures.write_all(ptabs, out / "figures", figures.cell_colors(tabs.ablation.cell))
        print(f"grid {col.grid}: {len(col.table)} prediction runs, {len(tabs.ablation)} cells, "
              f"split {opt.split}; proposed = {tabs.proposed}")
        print(f"wrote {len(written)} files to {out}")
        print((out / "ablation.md").read_text(encoding="utf-8").split("## Environment")[0].rstrip())
        if not a.check:
            return 0
        outcome = C.compare(tabs, refs, synthetic=is_synthetic(col, opt.manifest), ci_scale=a.ci_scale)
        write_text(out / "check.txt", C.report(outcome, full=True) + "\n")
        print(C.report(outcome, full=False) + f"\n(every compared value: {out / 'check.txt'})")
        return 1 if outcome.failed else 0
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
