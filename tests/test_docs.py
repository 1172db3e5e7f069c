"""The documentation runs: every ```python block in README.md and docs/*.md is executed (a page's
blocks in order, in one namespace, in a fresh temporary working directory), every ```bash block
made of ``torch-tfjs`` commands is run through the CLI in that same directory, and every
relative link points to a file that exists.

Markers (a comment as a block's first line):
  ``# doc-test: skip (reason)``  the block cannot run here (network, GPU); counted, and only a few
                                 are allowed.
In a torch-tfjs command line, a trailing comment ``# exit status N`` says the command is expected
to exit with N (default 0).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import List, NamedTuple

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
SKIP_MARKER = "# doc-test: skip"
MAX_SKIPPED = 6  # 4 today (network, GPU, a trainingConfig artifact, an inductor compile)

_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


class Block(NamedTuple):
    page: Path
    line: int
    lang: str
    code: str

    @property
    def skipped(self) -> bool:
        return self.code.lstrip().startswith(SKIP_MARKER)

    @property
    def is_cli(self) -> bool:
        lines = [l for l in self.code.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        return self.lang in ("bash", "sh", "console") and bool(lines) and lines[0].startswith("torch-tfjs")

    @property
    def runnable(self) -> bool:
        return self.lang == "python" or self.is_cli

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> List[Block]:
    text = page.read_text(encoding="utf-8")
    return [Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2))
            for m in _FENCE.finditer(text)]


def _run_cli(block: Block) -> None:
    from torch_tfjs.cli import main

    for raw in block.code.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert line.startswith("torch-tfjs "), f"{block.where()}: not a torch-tfjs command: {line}"
        expected = 0
        if "#" in line:
            found = re.search(r"#.*exit status (\d+)", line)
            if found:
                expected = int(found.group(1))
        argv = shlex.split(line, comments=True)[1:]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, bad usage
            code = exc.code if isinstance(exc.code, int) else 1
        assert code == expected, f"{block.where()}: `{line}` exited {code}, expected {expected}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    from torch_tfjs.graph import registry as op_registry
    from torch_tfjs.layers import registry as layer_registry

    monkeypatch.chdir(tmp_path)
    # Pages register layers and ops (docs/extending.md): undone after the page.
    layer_registry._ensure_loaded()
    op_registry._ensure_loaded()
    monkeypatch.setattr(layer_registry, "_CONVERTERS", dict(layer_registry._CONVERTERS))
    monkeypatch.setattr(op_registry, "_EMITTERS", dict(op_registry._EMITTERS))
    namespace = {"__name__": "__doc_test__"}
    ran = 0
    for block in blocks(page):
        if not block.runnable or block.skipped:
            continue
        if block.lang == "python":
            code = compile(block.code, block.where(), "exec")
            try:
                exec(code, namespace)
            except Exception as exc:
                raise AssertionError(f"{block.where()}: the example raised "
                                     f"{type(exc).__name__}: {exc}") from exc
        else:
            _run_cli(block)
        ran += 1
    if page.name != "index.md":
        assert ran, f"{page.relative_to(ROOT)} has no runnable example"


def test_few_blocks_are_skipped():
    every = [b for p in PAGES for b in blocks(p)]
    runnable = [b for b in every if b.runnable]
    skipped = [b.where() for b in runnable if b.skipped]
    assert len(runnable) - len(skipped) >= 20, "the docs should show (and test) real examples"
    assert len(skipped) <= MAX_SKIPPED, f"too many skipped doc blocks: {skipped}"
    for b in every:  # a skip marker must give its reason
        if b.skipped:
            assert re.match(r"\s*# doc-test: skip \(.+\)", b.code), f"{b.where()}: skip without a reason"


def test_python_blocks_are_marked_python():
    """An example in a ```py / unmarked fence would silently escape the test."""
    for page in PAGES:
        for b in blocks(page):
            if b.lang in ("py", "python3", "pycon"):
                pytest.fail(f"{b.where()}: use ```python so the block is tested")


def test_relative_links_point_to_files():
    broken = []
    for page in PAGES:
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            file = target.split("#", 1)[0]
            if not (page.parent / file).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_docs_index_links_every_page():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"
