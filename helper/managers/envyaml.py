"""Edit the `dependencies:` list of a conda environment.yml, line by line.

No YAML library is needed for the one list conda users edit: items are lines
`  - spec` under the top-level `dependencies:` key (a `- pip:` item holds a
nested list). Everything else in the file stays byte for byte.
"""

from __future__ import annotations

import re

from helper.errors import HelpError
from helper.names import canonical

_ITEM = re.compile(r"^(?P<indent>[ ]*)-[ ]+(?P<spec>[^#\n]*?)\s*(?P<comment>#.*)?$")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def spec_name(spec: str) -> str:
    """'conda-forge::numpy>=1.2' -> 'numpy'."""
    spec = spec.split("::")[-1].strip()
    match = re.match(r"[A-Za-z0-9_.\-]+", spec)
    return canonical(match.group(0)) if match else ""


def _block(lines: list[str], source: str) -> tuple[int, int] | None:
    """(index of `dependencies:`, index past its last item line)."""
    for number, line in enumerate(lines, start=1):
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise HelpError(
                f"{source}:{number}: a tab in the indentation is not valid YAML",
                f"indent {source} with spaces; nothing was changed",
            )
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"^dependencies\s*:\s*(#.*)?$", line.rstrip("\r\n"))), None
    )
    if start is None:
        if any(re.match(r"^dependencies\s*:", line) for line in lines):
            raise HelpError(
                f"{source}: `dependencies:` is not written as a block list",
                "write it as `dependencies:` followed by `  - name` lines; nothing was changed",
            )
        return None
    end = start + 1
    last = end
    while end < len(lines):
        line = lines[end].rstrip("\r\n")
        if line.strip() == "" or line.lstrip().startswith("#"):
            end += 1
            continue
        if _TOP_KEY.match(line):
            break
        last = end + 1
        end += 1
    return start, last


def items(text: str, source: str = "environment.yml") -> list[str]:
    """The conda specs (not the pip sub-list) in `dependencies:`."""
    lines = text.splitlines(keepends=True)
    block = _block(lines, source)
    if block is None:
        return []
    top_indent = None
    found = []
    for line in lines[block[0] + 1 : block[1]]:
        match = _ITEM.match(line.rstrip("\r\n"))
        if not match:
            continue
        indent = len(match.group("indent"))
        top_indent = indent if top_indent is None else top_indent
        if indent == top_indent and not match.group("spec").rstrip().endswith(":"):
            found.append(match.group("spec"))
    return found


def add(text: str, spec: str, source: str = "environment.yml") -> tuple[str, bool]:
    """Add or replace the conda spec naming the same package."""
    key = spec_name(spec)
    lines = text.splitlines(keepends=True)
    block = _block(lines, source)
    if block is None:
        if text and not text.endswith("\n"):
            text += "\n"
        return text + f"dependencies:\n  - {spec}\n", True
    start, end = block
    top_indent = None
    insert_at = start + 1
    for i in range(start + 1, end):
        match = _ITEM.match(lines[i].rstrip("\r\n"))
        if not match:
            continue
        indent = len(match.group("indent"))
        top_indent = indent if top_indent is None else top_indent
        if indent != top_indent:
            continue
        current = match.group("spec")
        if current.rstrip().endswith(":"):
            continue  # `- pip:` sub-list: conda items go before it
        insert_at = i + 1
        if spec_name(current) == key:
            ending = lines[i][len(lines[i].rstrip("\r\n")) :]
            comment = (" " + match.group("comment")) if match.group("comment") else ""
            new = f"{' ' * indent}- {spec}{comment}{ending}"
            if new == lines[i]:
                return text, False
            lines[i] = new
            return "".join(lines), True
    if insert_at > 0 and not lines[insert_at - 1].endswith("\n"):
        lines[insert_at - 1] += "\n"
    lines.insert(insert_at, f"{' ' * (top_indent if top_indent is not None else 2)}- {spec}\n")
    return "".join(lines), True


def remove(text: str, key: str, source: str = "environment.yml") -> tuple[str, bool]:
    """Drop the items (conda or pip sub-list) naming `key`."""
    lines = text.splitlines(keepends=True)
    block = _block(lines, source)
    if block is None:
        return text, False
    start, end = block
    keep = lines[: start + 1]
    changed = False
    for line in lines[start + 1 : end]:
        match = _ITEM.match(line.rstrip("\r\n"))
        if (
            match
            and not match.group("spec").rstrip().endswith(":")
            and spec_name(match.group("spec")) == canonical(key)
        ):
            changed = True
            continue
        keep.append(line)
    keep.extend(lines[end:])
    return "".join(keep), changed
