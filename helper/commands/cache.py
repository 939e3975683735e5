"""`help.py cache stats|gc|clean`: the local result cache."""

from __future__ import annotations

import argparse
from typing import Any

from helper.cache import for_project
from helper.config_schema import parse_size
from helper.errors import UsageError
from helper.ui import console

EXAMPLES = """examples:
  help.py cache stats                 entries, size, hits, misses, time saved
  help.py cache gc --max-size 500MiB  evict least recently used entries
  help.py cache clean                 empty the cache"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "cache",
        help="inspect and prune the result cache",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", choices=("stats", "gc", "clean"), default="stats")
    parser.add_argument("--max-size", help="for gc: size to shrink to (default: cache.max_size)")
    return parser


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def run(args: argparse.Namespace, project: Any) -> int:
    cache = for_project(project)
    if args.action == "stats":
        data = cache.stats()

        def render(d: dict[str, Any]) -> None:
            rate = f"{d['hit_rate'] * 100:.0f}%" if d["hit_rate"] is not None else "-"
            rows = [
                ("directory", d["dir"]),
                ("entries", f"{d['entries']} ({d['actions']} results, {d['blobs']} blobs)"),
                ("size", f"{human_bytes(d['bytes'])} of {human_bytes(d['max_bytes'])}"),
                ("hits / misses", f"{d['hits']} / {d['misses']} ({rate})"),
                ("time saved", f"{d['time_saved_s']:.1f} s"),
                ("evicted", f"{d['lru_evicted']} by size, {d['corrupt_evicted']} corrupt"),
                ("remote", d["remote"] or "-"),
            ]
            console.table(rows)

        console.result(data, render)
        return 0
    if args.action == "gc":
        try:
            limit = parse_size(args.max_size) if args.max_size else None
        except ValueError:
            raise UsageError(f"--max-size {args.max_size!r} is not a size", "use e.g. 500MiB or 2GiB") from None
        data = cache.gc(limit)
        console.result(
            data, lambda d: console.success(f"removed {d['removed']} entries, freed {human_bytes(d['freed_bytes'])}")
        )
        return 0
    data = cache.clean()
    console.result(
        data, lambda d: console.success(f"removed {d['removed']} entries, freed {human_bytes(d['freed_bytes'])}")
    )
    return 0
