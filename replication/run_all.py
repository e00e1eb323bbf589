"""Front door: ``python -m replication.run_all`` runs an ablation grid end to end.

With no arguments it runs the embedded ``default`` grid (tiny models, synthetic corpus) on this
machine. Rerunning the same command skips every finished run and resubmits only what is missing or
failed; ``--dry-run`` shows exactly that without submitting anything.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from submitit.core.utils import FailedJobError

from ablations import graph as graph_mod
from ablations import grid as grid_mod
from sfi_mos import rundir
from sfi_mos.atomic import check_writable
from sfi_mos.cli import Parser, int_at_least, refuse_overwrite
from sfi_mos.errors import InputError

from . import (costs, gpu_costs, inputs, launcher, manifest, monitor, profiles, rehearse_report, snapshot, students,
               summary)
from .state import failure, run_states, slurm_states


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = Parser(prog="python -m replication.run_all", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", default="default", choices=sorted(grid_mod.GRIDS))
    ap.add_argument("--cluster", default="local", choices=("local", "debug", "slurm"))
    ap.add_argument("--data", default="synthetic",
                    help="'synthetic' (generated under results/<grid>/data) or track3=PATH,bvcc=PATH,unlabelled=PATH")
    ap.add_argument("--results", default="results", help="results root (default ./results)")
    ap.add_argument("--profile", default=None, help="Slurm profile slurm/<NAME>.toml (or a .toml path)")
    ap.add_argument("--dry-run", action="store_true", help="print the stage graph (counts per stage, which run ids are done, which would be "
                    "submitted) and submit nothing; it does prepare the inputs: run ids hash their fingerprints")
    ap.add_argument("--costs", default=None, metavar="FILE",
                    help="with --dry-run: also estimate device-hours and disk from a rehearsal JSON "
                    "(python -m replication.rehearse --json FILE)")
    ap.add_argument("--gpu", default=None, metavar="NAME",
                    help="GPU kind the runs get (replication/gpus.py), overriding the profile's gpu; with --dry-run "
                    "prints GPU-hours and micro-batches per stage")
    ap.add_argument("--gpu-mem", type=float, default=None, metavar="GiB",
                    help="GPU memory a training run may use: it gets the micro-batch that fits (default: the "
                    "profile's gpu_mem, else its gpu's memory; none: whole batches)")
    ap.add_argument("--only", default=None, help="comma-separated cell names or globs, e.g. 'authors-hubert*,suite-*'")
    ap.add_argument("--max-parallel", type=int_at_least(1, "--max-parallel"), default=None,
                    help="local: concurrent runs (default 2); slurm: array parallelism")
    ap.add_argument("--threads", type=int_at_least(1, "--threads"), default=None,
                    help="torch threads per run (default: cores / parallel runs)")
    ap.add_argument("--wait", action=argparse.BooleanOptionalAction, default=None,
                    help="follow progress until all runs end (default: on; slurm can --no-wait)")
    ap.add_argument("--snapshot", action="store_true",
                    help="slurm: jobs run a snapshot of the committed code (results/<grid>/code/<sha>), "
                    "so later edits do not reach queued or requeued jobs")
    ap.add_argument("--no-progress", action="store_true", help="no live progress bar")
    ap.add_argument("--students", default=None, metavar="hubert=DIR,wav2vec2=DIR,wavlm=DIR",
                    help="released SFI students (local save_pretrained folders): the SFI cells of those teachers "
                    "start from them, with no distillation run (docs/authors_models.md)")
    args = ap.parse_args(argv)
    if args.gpu_mem is not None and not args.gpu_mem > 0:
        ap.error(f"--gpu-mem must be > 0 GiB, got {args.gpu_mem}")
    if args.snapshot and args.cluster != "slurm":
        ap.error("--snapshot is for --cluster slurm (local and debug runs use this checkout)")
    if args.wait is False and args.cluster != "slurm":
        ap.error("--no-wait is for --cluster slurm (local and debug runs are driven by this process)")
    return args


class Terminated(BaseException):
    """SIGTERM (e.g. ``kill``, a closing terminal, a job scheduler) while run_all drives runs."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sys.stdout.reconfigure(errors="backslashreplace")  # paths that are not UTF-8 are still printable
    old = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _main(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as e:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted (Ctrl-C)"
        print(f"\n{what}: running jobs were stopped; finished runs are kept and unfinished ones resume from "
              f"their checkpoints (every file is written atomically). To finish, rerun:\n"
              f"  python -m replication.run_all {shlex.join(argv)}", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, old)


def _main(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    if args.costs and not args.dry_run:
        raise InputError("--costs", "only used with --dry-run")
    rehearsal = costs.load(args.costs) if args.costs else None
    full = grid_mod.get(args.grid)
    grid = full.select(args.only)
    grid_dir = Path(args.results).resolve() / grid.name
    # nothing is written inside the corpora the runs read (a results folder there would be read as data)
    refuse_overwrite({}, corpora=list((inputs.parse_data(args.data) or {}).values()),
                     out_dirs={"--results": grid_dir})
    check_writable(grid_dir, "dir", "--results")  # before the corpus is generated or anything runs
    layout = rundir.read_layout(grid_dir)  # a newer layout is refused before anything is written
    if layout < rundir.LAYOUT and any((grid_dir / s).is_dir() for s in grid_mod.STAGE_ORDER):
        print(f"note: {grid_dir} has results layout {layout}; this suite writes layout {rundir.LAYOUT}. "
              "Training runs keep their ids; predict and score runs are re-keyed and recomputed (minutes), "
              "the old ones are listed as orphaned (CHANGELOG.md)", file=sys.stderr)
    profile = profiles.load(args.profile) if args.cluster == "slurm" or args.profile else None
    if args.dry_run and grid.synthetic is None and inputs.parse_data(args.data) is None:
        # pricing a real grid before its corpora are at hand: the documented corpus sizes and registered
        # teachers stand in (run ids then name no corpus, so none of them reads as done)
        print("note: no --data: the grid is priced on the documented corpus sizes; run ids and their states "
              "need --data", file=sys.stderr)
        ins = students.attach(rehearse_report.paper_inputs(), grid, args.students)
    else:
        ins = students.attach(inputs.resolve(grid, grid_dir, args.data), grid, args.students)
    graph = graph_mod.build(grid, ins)
    runs = manifest.read(grid_dir)
    sched = slurm_states({e["job_id"] for e in runs.values() if e.get("cluster") == "slurm"}) \
        if args.cluster == "slurm" else {}
    states = run_states(graph, grid_dir, runs, sched)
    if args.dry_run:
        print(monitor.cells(grid))
        print(monitor.dry_run(graph, states, grid_dir))
        if ins.students:
            print(students.replaced(graph_mod.build(grid, replace(ins, students={})), graph))
        full_graph = graph_mod.build(full, ins) if grid is not full else graph
        orphaned = monitor.orphans(full_graph, grid_dir)
        if orphaned:
            print(orphaned)
        print("\n" + costs.dry_run_lines(graph, {c.name: c for c in grid.cells}, grid_dir, rehearsal, args.costs or ""))
        if profile is not None or args.gpu:
            print("\n" + gpu_costs.dry_run_lines(graph, grid, {c.name: c for c in grid.cells}, grid_dir, profile,
                                                 args.gpu, args.gpu_mem, rehearsal))
        return 0
    # micro-batches for the GPU memory budgets; a run that cannot fit one clip stops everything here
    executions = launcher.plan_executions(graph, grid, grid_dir, [n for n in graph.nodes.values()
                                          if states[n.rel] != "done"], profile, args.gpu_mem, args.gpu)

    rundir.write_layout(grid_dir)
    failed = [rel for rel, st in states.items() if st == "failed"]
    if failed:  # a failure (a stage error, a killed job) is said once more before it is retried
        print(f"resubmitting {len(failed)} failed run(s); their last failure:", file=sys.stderr)
        for rel in failed:
            print("  " + failure(grid_dir, rel, runs), file=sys.stderr)
    wait = args.wait if args.wait is not None else True
    parallel = args.max_parallel if args.max_parallel is not None else (2 if args.cluster == "local" else 1)
    threads = args.threads
    if threads is None and args.cluster != "slurm":  # on Slurm a job uses the CPUs it was given
        threads = max(1, (os.cpu_count() or 1) // parallel)
    progress = monitor.Progress(graph, enabled=not args.no_progress, grid_dir=grid_dir)
    if args.cluster in ("local", "debug"):
        states = launcher.run_local(graph, grid, grid_dir, args.cluster, parallel, threads, progress, executions)
    else:
        setup: list[str] = []
        if args.snapshot:
            code, dirty = snapshot.make(grid_dir)
            setup = snapshot.setup_lines(code)
            print(f"code snapshot: {code}" + ("  (note: uncommitted changes are not in it)" if dirty else ""),
                  file=sys.stderr)
        try:
            n_jobs, n_arrays = launcher.submit_slurm(graph, grid, grid_dir, profile, args.max_parallel, threads,
                                                     setup, executions)
        except (FailedJobError, RuntimeError, OSError) as e:  # sbatch missing, controller down, bad flag
            progress.close()
            print(f"error: Slurm submission failed: {str(e).strip()}\n(jobs submitted before the error are "
                  f"recorded in {grid_dir / manifest.NAME}; rerun to continue)", file=sys.stderr)
            return 1
        print(f"submitted {n_jobs} Slurm job(s) ({n_arrays} array(s)); manifest: {grid_dir / manifest.NAME}",
              file=sys.stderr)
        if not wait:
            progress.close()
            print(f"follow with: python -m replication.run_all --grid {args.grid} --cluster slurm "
                  f"--results {args.results} --dry-run  (or rerun with --wait)")
            return 0
        states = launcher.follow_slurm(graph, grid_dir, progress)
    progress.close()
    path = summary.write(full, graph_mod.build(full, ins) if grid is not full else graph, grid_dir)
    print(monitor.report(graph, states, grid_dir, manifest.read(grid_dir)))
    print(f"summary: {path}   ({time.monotonic() - t0:.1f} s)")
    return 0 if all(st == "done" for st in states.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
