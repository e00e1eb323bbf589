#!/usr/bin/env bash
# sfi-mos quick start.  Usage:
#   bash quickstart.sh demo   # set up .venv, run the whole pipeline on the embedded default, make the tables
#   bash quickstart.sh test   # set up .venv (+ the Debian packages the Slurm tests need), run the test suite
# Setup is idempotent: a second run reuses .venv (it reinstalls only when pyproject.toml changed).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3

setup_venv() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  local stamp=.venv/.sfi-mos-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip (not uv/poetry): it honours the machine's local wheels and constraints
    # peers: DNSMOS and DistillMOS, the tables' reference rows (~340 MB more, mostly numba/llvmlite)
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,peers]'
    touch "$stamp"
  fi
}

setup_slurm_packages() {
  # Real single-node Slurm for the tests (slurm/README.md); needs root and Debian's apt.
  if command -v slurmctld >/dev/null && command -v munged >/dev/null; then return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  else
    echo "note: slurmctld/munge missing and no root apt-get: the Slurm tests will be skipped" >&2
  fi
}

case "${1:-}" in
  demo)
    setup_venv
    shift
    .venv/bin/python -m replication.run_all "$@"
    .venv/bin/python -m paper.make_tables
    ;;
  test)
    setup_venv
    setup_slurm_packages
    shift
    .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: bash quickstart.sh demo|test [extra args]" >&2
    exit 2
    ;;
esac
