#!/usr/bin/env bash
# sfi-mos quick start.  Usage:
#   bash quickstart.sh demo [run_all options]  # set up .venv, run a grid (default: the embedded `default`), make its tables
#   bash quickstart.sh test [pytest options]   # set up .venv (+ the Debian packages the Slurm tests need), run the tests
#   bash quickstart.sh run MODULE [args]       # any command of the suite with .venv's Python, no activation needed,
#                                              # e.g. bash quickstart.sh run sfi_mos.predict --model ... audio/ --out p.csv
# Setup is idempotent: a second run reuses .venv (it reinstalls only when pyproject.toml changed).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

say() { echo "quickstart: $*" >&2; }

setup_venv() {
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $("$PY" --version 2>&1)"
    "$PY" -m venv .venv
  fi
  local stamp=.venv/.sfi-mos-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip (not uv/poetry): it honours the machine's local wheels and constraints
    say "installing sfi-mos and its packages into .venv: torch, torchaudio, s3prl, the peers' DNSMOS and"
    say "DistillMOS (onnxruntime, librosa/numba). About 3 min on a fresh 2-core machine, about 6.5 GB on disk."
    local t0=$SECONDS
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,peers]'
    touch "$stamp"
    say "installed in $((SECONDS - t0)) s ($(du -sh .venv 2>/dev/null | cut -f1) in .venv)"
  fi
}

setup_slurm_packages() {
  # Real single-node Slurm for the tests (slurm/README.md); needs root and Debian's apt.
  if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's slurmctld, slurmd, slurm-client and munge for the Slurm tests (about 1 min)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  else
    say "note: slurmctld/munge missing and no root apt-get: the Slurm tests will be skipped"
  fi
}

# the --grid and --results of a run_all command line (both `--opt V` and `--opt=V`), for make_tables
option() {
  local name=$1 default=$2 val
  val=$default
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      "$name") [ $# -gt 1 ] && val=$2 && shift ;;
      "$name"=*) val=${1#*=} ;;
    esac
    shift
  done
  echo "$val"
}

what_next() {
  local results=$1 grid=$2 cell=$3 paper=$1/$2/paper
  cat <<EOF

What next
  Open first:
    $paper/ablation.md          every cell's 8 metrics with 95 % CIs, and what each cell is
    $paper/probe.md             does a front end hear above 8 kHz? (the high-band twins)
    $paper/figures/             the figures (forest_sys_srcc.png, probe_delta.png, frontend_energy.png, ...)
  Score your own audio (wav at any rate, 8-96 kHz) with the model this demo just trained:
    bash quickstart.sh run sfi_mos.predict --model $results/$grid --cell $cell my_audio/ --out preds.csv
  (the demo's models are tiny and random-init, trained on a synthetic corpus: a pipeline check, not a MOS predictor)
  Run the real study on a cluster (see README, "Running the study on a cluster"):
    bash quickstart.sh run replication.rehearse --json rehearsal.json     # price it first
    bash quickstart.sh run replication.run_all --cluster slurm --profile example --grid paper \\
        --data track3=/data/track3_obf,bvcc=/data/main,unlabelled=/data/ears
EOF
}

case "${1:-}" in
  demo)
    shift
    setup_venv
    grid=$(option --grid default "$@")
    results=$(option --results results "$@")
    say "running grid '$grid' into $results/$grid (Ctrl-C is safe: the same command resumes)"
    t0=$SECONDS
    status=0
    .venv/bin/python -m replication.run_all "$@" || status=$?
    say "run_all took $((SECONDS - t0)) s"
    [ "$status" = 0 ] || { say "run_all did not finish every run (exit $status); rerun the same command to resume"; exit "$status"; }
    tables=$(.venv/bin/python -m paper.make_tables --results "$results" --grid "$grid" | tee /dev/stderr)
    cell=$(sed -n 's/.*; proposed = \([^ ]*\)$/\1/p' <<<"$tables" | head -1)
    what_next "$results" "$grid" "${cell:-authors-hubert}"
    ;;
  test)
    shift
    setup_venv
    setup_slurm_packages
    .venv/bin/python -m pytest "$@"
    ;;
  run)
    shift
    [ $# -gt 0 ] || { echo "usage: bash quickstart.sh run MODULE [args]  (e.g. sfi_mos.predict --help)" >&2; exit 2; }
    setup_venv
    module=$1
    shift
    exec .venv/bin/python -m "$module" "$@"
    ;;
  *)
    echo "usage: bash quickstart.sh demo [run_all options] | test [pytest options] | run MODULE [args]" >&2
    exit 2
    ;;
esac
