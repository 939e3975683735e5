"""Reports of a test run: summary line, --explain table, JSON, JUnit XML, GitHub annotations.

Results taken from the cache are always marked as such ("cached") in every format.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from helper.fsutil import atomic_write
from helper.testing.select import Plan
from helper.ui import console


def rows(plan: Plan, ran: dict[str, dict[str, Any]], reasons: dict[str, str]) -> list[dict[str, Any]]:
    """One row per test: run now (with its fresh result) or reused from the cache."""
    out: list[dict[str, Any]] = []
    for decision in plan.cached:
        result = decision.result or {}
        out.append(
            {
                "id": decision.test,
                "outcome": result.get("outcome"),
                "cached": True,
                "duration": result.get("duration", 0.0),
                "reason": decision.reason,
            }
        )
    for test, entry in ran.items():
        row = {
            "id": test,
            "outcome": entry.get("outcome"),
            "cached": False,
            "duration": round(entry.get("duration", 0.0), 6),
            "reason": reasons.get(test, "new test"),
        }
        for key in ("path", "line", "message", "longrepr"):
            if key in entry:
                row[key] = entry[key]
        out.append(row)
    return sorted(out, key=lambda r: r["id"])


def summary(table: list[dict[str, Any]], plan: Plan, exit_code: int, elapsed: float) -> dict[str, Any]:
    ran = Counter(r["outcome"] for r in table if not r["cached"])
    cached = Counter(r["outcome"] for r in table if r["cached"])
    return {
        "exit_code": exit_code,
        "ran": sum(ran.values()),
        "cached": sum(cached.values()),
        "unaffected": len(plan.unaffected),
        "outcomes": dict(ran),
        "cached_outcomes": dict(cached),
        "seconds": round(elapsed, 3),
    }


def render_summary(info: dict[str, Any]) -> None:
    def counts(outcomes: dict[str, int]) -> str:
        return ", ".join(f"{n} {name}" for name, n in sorted(outcomes.items())) or "none"

    total = info["ran"] + info["cached"]
    parts = [f"{info['ran']} run ({counts(info['outcomes'])})" if info["ran"] else "0 run"]
    if info["cached"]:
        parts.append(
            f"{info['cached']} cached ({counts(info['cached_outcomes'])}) [not re-run: nothing they depend on changed]"
        )
    if info["unaffected"]:
        parts.append(f"{info['unaffected']} not affected by the changes")
    line = "help.py test: " + "; ".join(parts) + f" in {info['seconds']:.2f}s"
    if total and info["cached"] == total:
        line += " -- all from cache, use --all to re-run"
    failed = info["outcomes"].get("failed", 0) + info["outcomes"].get("error", 0)
    if failed:
        console.echo(console.style(line, "red"))
    else:
        console.echo(console.style(line, "green") if info["ran"] or info["cached"] else line)


def render_explain(plan: Plan, limit: int | None = None) -> None:
    lines = [
        ("run" if d.run else "cached" if d.result is not None else "skip", d.test, d.reason) for d in plan.decisions
    ]
    lines += [("collect", rel, reason) for rel, reason in plan.collect.items()]
    lines.sort(key=lambda r: (r[0] != "run", r[0] != "collect", r[1]))
    shown = lines if limit is None else lines[:limit]
    for action, name, reason in shown:
        sys.stderr.write(f"{action:<8} {name}  ({reason})\n")
    if len(shown) < len(lines):
        sys.stderr.write(f"... and {len(lines) - len(shown)} more\n")
    sys.stderr.flush()


def junit(path: Path, table: list[dict[str, Any]], elapsed: float) -> None:
    """JUnit XML with every test; cached ones carry a `cached` property."""
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(r["outcome"] in ("failed", "xpassed-strict") for r in table)
    errors = sum(r["outcome"] == "error" for r in table)
    skipped = sum(r["outcome"] in ("skipped", "xfailed") for r in table)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<testsuites><testsuite name="help.py test" tests="{len(table)}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{elapsed:.3f}">',
    ]
    for row in table:
        test_id = row["id"]
        file_part, _, rest = test_id.partition("::")
        classname = file_part.removesuffix(".py").replace("/", ".")
        if "::" in rest:
            cls, _, rest = rest.rpartition("::")
            classname += "." + cls.replace("::", ".")
        out.append(
            f'<testcase classname={quoteattr(classname)} name={quoteattr(rest or test_id)} file={quoteattr(file_part)} time="{float(row["duration"] or 0):.3f}">'
        )
        if row["cached"]:
            out.append('<properties><property name="cached" value="true"/></properties>')
        message = quoteattr(row.get("message", "") or "")
        body = escape(row.get("longrepr", "") or "")
        if row["outcome"] == "failed":
            out.append(f"<failure message={message}>{body}</failure>")
        elif row["outcome"] == "error":
            out.append(f"<error message={message}>{body}</error>")
        elif row["outcome"] in ("skipped", "xfailed"):
            out.append(f'<skipped message="{row["outcome"]}"/>')
        out.append("</testcase>")
    out.append("</testsuite></testsuites>")
    atomic_write(path, "\n".join(out) + "\n", fsync=False)


def _annotation_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(table: list[dict[str, Any]]) -> list[str]:
    """`::error` workflow commands for failed tests (GitHub Actions shows them on the diff)."""
    lines = []
    for row in table:
        if row["outcome"] in ("failed", "error") and not row["cached"]:
            path = row.get("path") or row["id"].partition("::")[0]
            line = row.get("line") or 1
            title = _annotation_escape(f"{row['outcome']}: {row['id']}", prop=True)
            lines.append(
                f"::error file={_annotation_escape(path, True)},line={line},title={title}::{_annotation_escape(row.get('message') or row['outcome'])}"
            )
    return lines


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
