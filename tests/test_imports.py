"""Imports sit at the top of the module; an import inside a function carries a comment saying why, and
the light modules the CLIs start from stay free of torch and the other heavy packages."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("sfi_mos", "ablations", "replication", "paper")
# what `python -m replication`, the grid and the paper tables import before any stage runs
LIGHT = ("ablations.grid", "ablations.graph", "paper.collect", "paper.tables", "replication.run_all")
HEAVY = ("torch", "torchaudio", "s3prl", "schedulefree", "onnxruntime", "speechmos", "distillmos", "matplotlib")


def uncommented_function_imports(text: str) -> list[tuple[int, str]]:
    """(line, statement) of every import inside a function with no ``#`` on its own lines or on the line
    above it; a comment above a run of consecutive imports covers the run."""
    lines = text.splitlines()
    imports = [n for fn in ast.walk(ast.parse(text)) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
               for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
    import_lines = {k for n in imports for k in range(n.lineno, n.end_lineno + 1)}
    out = set()
    for n in imports:
        above = n.lineno - 1
        while above in import_lines:  # back to the line above the run this import belongs to
            above -= 1
        if not any("#" in x for x in lines[n.lineno - 1:n.end_lineno]) and not (above and "#" in lines[above - 1]):
            out.add((n.lineno, lines[n.lineno - 1].strip()))
    return sorted(out)


def heavy_after_import(modules: tuple[str, ...]) -> list[str]:
    """The HEAVY packages in ``sys.modules`` of a fresh interpreter after importing ``modules``."""
    code = (f"import importlib, json, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
            f"print(json.dumps([h for h in {HEAVY!r} if h in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_scan_flags_uncommented_function_imports_only():
    text = ("import sys\n\n\ndef f():\n    import os\n    return os\n\n\n"
            "def g():\n    import torch  # lazy: heavy\n\n"
            "    # lazy: heavy\n    import torchaudio\n    from s3prl import nn\n\n\n"
            "def h():\n    x = 1\n    import json\n")
    assert uncommented_function_imports(text) == [(5, "import os"), (19, "import json")]


def test_every_function_level_import_says_why():
    missing = [f"{path.relative_to(REPO)}:{line}: {stmt}" for pkg in PACKAGES
               for path in sorted((REPO / pkg).rglob("*.py"))
               for line, stmt in uncommented_function_imports(path.read_text())]
    assert not missing, ("imports inside functions without a comment saying why (move them to the top of "
                         "the module, or say why not):\n" + "\n".join(missing))


@pytest.mark.parametrize("modules, expected", [
    (LIGHT, []),
    (("sfi_mos.mos",), ["torch", "torchaudio"]),  # the check sees what a model module pulls in
])
def test_light_modules_import_no_heavy_package(modules, expected):
    assert heavy_after_import(modules) == expected
