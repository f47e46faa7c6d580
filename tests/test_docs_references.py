"""What the code cites lives in the repository: no reference to a path outside it, and every `docs/X.md#anchor`
(and every relative Markdown link) points at a file and heading that exist.

Scanned: every file git knows in the repository (tracked, or untracked and not ignored) with a text suffix below.
Anchors of a Markdown file are its explicit `<a id="...">` ids and the GitHub slugs of its headings.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUFFIXES = {".py", ".smk", ".yaml", ".yml", ".md", ".toml", ".sh", ".rst", ".cfg", ".txt", ".ini"}
NAMES = {"Snakefile", "Makefile"}
SELF = Path(__file__).resolve()

# References to notes that a clone of the repository does not contain. Written split so this file does not match.
OUTSIDE = [
    ("a path under shared/", re.compile(r"\bshared/(?:spec|conventions|ARCHITECTURE)")),
    ("an absolute path of a work machine", re.compile(r"(?<![\w.])/work/")),
    ("the notes' spec files", re.compile(r"\b(?:zfo_vvca|single_item|beyond)" + r"\.md\b")),
    ("the notes' numbering", re.compile(r"\b[Ss]pec (?:Part|beyond|\d)|\bPart [AB] (?:item|section|\d)")),
    ("the notes' seed files", re.compile(r"\.\./seeds\b")),
]
PARENT_PATH = re.compile(r"(?<![\w./])((?:\.\./)+[\w.\-/]*)")
DOCS_REF = re.compile(r"\bdocs/([\w\-]+\.md)(?:#([\w\-]+))?")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
EXPLICIT_ID = re.compile(r"""<a\s+(?:name|id)=["']([^"']+)["']""")


def repo_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = []
    for line in out.splitlines():
        path = REPO / line
        if path.is_file() and (path.suffix in SUFFIXES or path.name in NAMES) and path.resolve() != SELF:
            files.append(path)
    return files


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: markup dropped, lower case, punctuation but '-' and '_' removed, spaces -> '-'."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Explicit ids and heading slugs (GitHub's -1, -2 suffixes for repeats) of a Markdown file."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        found.update(EXPLICIT_ID.findall(line))
        m = HEADING.match(line)
        if m:
            slug = github_slug(m[2])
            k = counts.get(slug, 0)
            counts[slug] = k + 1
            found.add(slug if k == 0 else f"{slug}-{k}")
    return frozenset(found)


def problems(path: Path) -> list[str]:
    rel = path.relative_to(REPO)
    text = path.read_text(encoding="utf-8", errors="replace")
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{lineno}"
        for what, pattern in OUTSIDE:
            if pattern.search(line):
                out.append(f"{where}: {what} (cite docs/ or the paper instead): {line.strip()[:120]}")
        for m in PARENT_PATH.finditer(line):
            target = (path.parent / m[1]).resolve()
            if not target.is_relative_to(REPO):
                out.append(f"{where}: {m[1]!r} leaves the repository")
        for m in DOCS_REF.finditer(line):
            doc = REPO / "docs" / m[1]
            if not doc.is_file():
                out.append(f"{where}: docs/{m[1]} does not exist")
            elif m[2] is not None and m[2] not in anchors(doc):
                out.append(f"{where}: docs/{m[1]} has no section #{m[2]}")
        if path.suffix == ".md":
            for m in MD_LINK.finditer(line):
                out.extend(f"{where}: {msg}" for msg in link_problems(path, m[1]))
    return out


def link_problems(md: Path, link: str) -> list[str]:
    if re.match(r"^[a-z][a-z0-9+.\-]*:", link):  # https:, mailto:, ...
        return []
    target, _, anchor = link.partition("#")
    dest = (md.parent / target).resolve() if target else md
    if not dest.is_relative_to(REPO):
        return [f"link {link!r} leaves the repository"]
    if not dest.exists():
        return [f"link {link!r}: {dest.relative_to(REPO)} does not exist"]
    if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
        return [f"link {link!r}: no section #{anchor} in {dest.relative_to(REPO)}"]
    return []


def test_no_reference_leaves_the_repository_and_every_docs_anchor_exists():
    found = [p for path in repo_files() for p in problems(path)]
    assert not found, "\n".join(found)


def test_the_docs_exist_and_the_readme_links_them():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("methods", "operations", "extending", "timings"):
        assert (REPO / "docs" / f"{name}.md").is_file()
        assert f"docs/{name}.md" in readme


def test_the_readme_is_short():
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) < 150


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("see ../../notes/x.md", "leaves the repository"),
        ("(" + "shared/spec/beyond.md section 3)", "a path under shared/"),
        ("(spec " + "Part A item 5)", "the notes' numbering"),
        ("docs/methods.md#no-such-section", "has no section #no-such-section"),
        ("docs/nowhere.md#x", "docs/nowhere.md does not exist"),
        ("[x](../../elsewhere.md)", "leaves the repository"),
        ("[x](methods.md#no-such-section)", "no section #no-such-section"),
    ],
)
def test_the_check_catches(tmp_path, monkeypatch, line, complaint):
    doc = REPO / "docs" / "_probe_does_not_exist.md"
    monkeypatch.setattr(Path, "read_text", lambda self, **kw: line if self == doc else _read(self, **kw))
    assert any(complaint in p for p in problems(doc)), problems(doc)


def test_the_check_accepts_paths_inside_the_repository():
    smk = REPO / "workflow" / "rules" / "data.smk"
    assert not [p for p in problems(smk) if "leaves the repository" in p]
    assert "regretnet" in anchors(REPO / "docs" / "methods.md")
    assert github_slug("The report's two-phase net") == "the-reports-two-phase-net"
    assert github_slug("`make run` (quick tier)") == "make-run-quick-tier"


_read = Path.read_text
