"""Every ```python block of the README runs, in order, in one namespace (as a reader would)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_readme_blocks_run(capsys, monkeypatch):
    monkeypatch.chdir(README.parent)
    namespace = {"__name__": "__readme__"}
    for i, block in enumerate(BLOCKS):
        try:
            exec(compile(block, f"README.md block {i + 1}", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message names the block
            raise AssertionError(f"README block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}") from exc
    assert capsys.readouterr().out  # the examples print what they compute
