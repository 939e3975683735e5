"""The code base itself stays lint-clean, formatted and type-checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "helper"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_quality(argv: list[str]) -> None:
    tool = BIN / argv[0]
    assert tool.exists(), f"{argv[0]} is missing from the test environment: it is in the dev extra"
    result = subprocess.run([str(tool), *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
