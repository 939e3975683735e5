"""Sample projects of each kind, pointed at the test index."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write

HEAD = """# A sample project
[project]
name = "sample"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [
    "beta",  # keeps alpha below 2
]
"""

TOOL = {
    "uv": '\n[tool.uv]\npackage = false\n\n[[tool.uv.index]]\nurl = "{url}"\ndefault = true\n',
    "poetry": '\n[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = "local"\nurl = "{url}"\npriority = "primary"\n',
    "pdm": '\n[tool.pdm]\ndistribution = false\n\n[[tool.pdm.source]]\nname = "pypi"\nurl = "{url}"\n',
    "pip": "",
}

LOCKS = {"uv": "uv.lock", "poetry": "poetry.lock", "pdm": "pdm.lock"}


def make(kind: str, root: Path, url: str) -> Path:
    """A project of `kind` (uv, poetry, pdm, pip, requirements) depending on beta."""
    if kind == "requirements":
        write(root / "requirements.txt", "# runtime\nbeta  # keeps alpha below 2\n")
    else:
        write(root / "pyproject.toml", HEAD + TOOL[kind].format(url=url))
    write(root / ".gitignore", ".venv/\n.help/\n")
    return root
