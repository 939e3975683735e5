"""An environment's installed distributions, read from its *.dist-info without running it.

This is what makes a venv whose interpreter is gone repairable: its package
set is still on disk, in site-packages.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from urllib.parse import unquote, urlparse

from helper.envs.layout import dist_infos


@dataclass
class Installed:
    name: str
    version: str
    editable_path: str | None = None  # the source directory of an editable install
    url: str | None = None  # a direct URL install (file://, git+https://...)

    def requirement(self) -> str:
        if self.editable_path:
            return f"-e {self.editable_path}"
        if self.url:
            return f"{self.name} @ {self.url}"
        return f"{self.name}=={self.version}"


SEED = {"pip", "setuptools", "wheel", "distribute"}  # the venv tool provides these itself


def installed(prefix: Path) -> list[Installed]:
    """Every distribution in the prefix's site-packages, sorted by name."""
    result: dict[str, Installed] = {}
    parser = HeaderParser()
    for _name, _version, info in dist_infos(prefix):
        try:
            meta = parser.parsestr((info / "METADATA").read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        name, version = meta.get("Name"), meta.get("Version")
        if not name or not version:
            continue
        entry = Installed(name=name, version=version)
        direct = info / "direct_url.json"
        if direct.is_file():
            try:
                data = json.loads(direct.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            url = str(data.get("url") or "")
            if data.get("dir_info", {}).get("editable") and url.startswith("file://"):
                entry.editable_path = unquote(urlparse(url).path)
            elif url and "vcs_info" in data:
                vcs = data["vcs_info"]
                entry.url = f"{vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id', '')}".rstrip("@")
            elif url.startswith("file://") and os.path.exists(unquote(urlparse(url).path)):
                entry.url = url
        result[name.lower()] = entry
    return sorted(result.values(), key=lambda e: e.name.lower())
