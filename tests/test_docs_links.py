"""Every link between the project's pages resolves: a relative link in README.md or docs/*.md
names a file that exists, and its #anchor a heading of that page (GitHub's anchors); a page's
section named in configs/ (`docs/kubeflow.md#resources-and-retries`) too. Pages move and
headings change; a reader who follows a dead link is left with nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PAGES = sorted([REPO_ROOT / "README.md", *(REPO_ROOT / "docs").glob("*.md")])
CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")  # [text](target)
PAGE_MENTION = re.compile(r"\b((?:docs/)?[\w-]+\.md)(#[\w-]+)?")  # docs/kubeflow.md#resources, README.md
SECTION_MENTION = re.compile(r"\b((?:docs/)?[\w-]+\.md), \"([^\"]+)\"")  # docs/kubeflow.md, "Beam runners"
FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks: a `#` or `[x](y)` inside one is code, not markdown."""
    lines, in_code = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            lines.append(line)
    return lines


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`|\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading's is suffixed -1, -2, ... as GitHub does."""
    found: set[str] = set()
    for line in prose_lines(page.read_text()):
        if match := re.match(r"#{1,6} +(.+?) *#*$", line):
            base = anchor(match[1])
            name, count = base, 0
            while name in found:
                count += 1
                name = f"{base}-{count}"
            found.add(name)
    return found


def broken(source: Path, target: str, base: Path, root: Path) -> str | None:
    """Why `target` (path#anchor, relative to `base`) does not resolve, or None when it does."""
    path_part, _, fragment = target.partition("#")
    page = (base / path_part).resolve() if path_part else source
    where = f"{source.relative_to(root)}: {target}"
    if not page.exists():
        return f"{where}: no such file"
    if fragment and page.suffix == ".md" and fragment not in anchors(page):
        return f"{where}: {page.name} has no heading with anchor #{fragment}"
    return None


def broken_links(pages: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """The relative links of markdown pages that do not resolve (web links are not followed)."""
    return [
        problem
        for page in pages
        for line in prose_lines(page.read_text())
        for target in LINK.findall(line)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # https:, mailto:
        and (problem := broken(page, target, page.parent, root))
    ]


def broken_mentions(files: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """The pages named in files' text (from the project root), as `page.md#anchor` or
    `page.md, "Heading"`, that do not resolve."""
    return [
        problem
        for path in files
        for name, fragment in PAGE_MENTION.findall(path.read_text())
        if (problem := broken(path, name + fragment, root, root))
    ] + broken_section_mentions(files, root)


def broken_section_mentions(files: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """The sections named as `docs/page.md, "Heading"` (in prose and comments) that are no heading
    of that page."""
    return [
        problem
        for path in files
        for name, heading in SECTION_MENTION.findall(path.read_text())
        if (problem := broken(path, f"{name}#{anchor(heading)}", root, root))
    ]


def test_every_link_of_the_pages_resolves():
    assert broken_links(PAGES) == []


def test_every_section_the_pages_name_is_a_heading():
    assert broken_section_mentions(PAGES) == []


def test_every_page_the_configs_name_exists_with_its_section():
    assert broken_mentions(CONFIGS) == []


# --- the checks themselves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Layout: four jobs, imports point down", "layout-four-jobs-imports-point-down"),
        ("5c. KFP's own object store (SeaweedFS or MinIO)", "5c-kfps-own-object-store-seaweedfs-or-minio"),
        ("Run-time parameters", "run-time-parameters"),
        ("The `kubeflow` settings", "the-kubeflow-settings"),
    ],
)
def test_anchor_is_githubs(heading: str, expected: str):
    assert anchor(heading) == expected


def test_a_dead_link_an_unknown_anchor_and_a_missing_page_are_each_found(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Same\n\n## Same\n\n```\n# not a heading\n```\n")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md#same-1) [ok](#b) [web](https://example.com/x.md#y)\n"
        "# B\n"
        "[gone](docs/b.md) [no anchor](docs/a.md#not-a-heading) [self](#c)\n"
        "```\n[in code](docs/nothing.md)\n```\n"
    )
    config = tmp_path / "pipeline.yaml"
    config.write_text('# see docs/a.md#same and docs/a.md#nowhere, docs/a.md, "Same" and docs/a.md, "Other"\n')

    assert broken_links([page], tmp_path) == [
        "README.md: docs/b.md: no such file",
        "README.md: docs/a.md#not-a-heading: a.md has no heading with anchor #not-a-heading",
        "README.md: #c: README.md has no heading with anchor #c",
    ]
    assert broken_mentions([config], tmp_path) == [
        "pipeline.yaml: docs/a.md#nowhere: a.md has no heading with anchor #nowhere",
        "pipeline.yaml: docs/a.md#other: a.md has no heading with anchor #other",
    ]
