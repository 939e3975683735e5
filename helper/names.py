"""Distribution names in their canonical form (PEP 503: lower case, runs of -, _ and . as one -)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")


def canonical(name: str) -> str:
    return _SEPARATORS.sub("-", name).lower()
