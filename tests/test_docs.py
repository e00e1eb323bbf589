"""The README is a front door: short, with links that resolve inside the repository."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _docs() -> list[Path]:
    return [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]


def test_readme_is_a_front_door():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 150
    assert sum(1 for line in lines if line.startswith("bash quickstart.sh")) == 2  # the two commands


def test_links_resolve_inside_the_repository():
    bad = []
    for doc in _docs():
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            path = (doc.parent / target).resolve()
            if not path.exists() or REPO not in path.parents and path != REPO:
                bad.append(f"{doc.relative_to(REPO)} -> {target}")
    assert not bad, bad


def test_no_references_to_files_outside_the_repository():
    for doc in _docs():
        text = doc.read_text()
        assert "../shared" not in text and "DEVELOPERS.md" not in text and "research notes" not in text, doc
