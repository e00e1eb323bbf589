"""``python -m tests.catalogue.limited MIB MODULE [ARGS ...]``: run ``MODULE`` as ``python -m MODULE ARGS``
on a machine with little memory: its address space may grow by ``MIB`` MiB past what the interpreter
holds once torch is imported (RLIMIT_AS), so an allocation sized by the input, not the machine, fails."""
from __future__ import annotations

import resource
import runpy
import sys

import torch  # noqa: F401  (its mappings are part of the baseline)


def _vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


if __name__ == "__main__":
    mib, module = int(sys.argv[1]), sys.argv[2]
    limit = _vm_bytes() + (mib << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
