"""`help.py config show|check`: the merged configuration and where each value comes from."""

from __future__ import annotations

import argparse
import re
from typing import Any

from helper.config_schema import SCHEMA, is_secret
from helper.ui import console

EXAMPLES = """examples:
  help.py config show                 every setting, its value and its source
  help.py config show --json          the same for scripts (secrets masked)
  help.py config check                validate pyproject.toml, config/help*.toml, HELP_*
  help.py config env                  the profile's .env with secrets masked
  HELP_PROFILE=test help.py config show   the test profile's values"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "config",
        help="show or check the configuration",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", nargs="?", choices=("show", "check", "env"), default="show")
    return parser


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def masked(key: str, value: Any) -> Any:
    """The value as it may be shown: secrets hidden, passwords in URLs hidden."""
    if value in (None, "", [], {}):
        return value
    if is_secret(key):
        return "****"
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1****@", value)
    return value


def run(args: argparse.Namespace, project: Any) -> int:
    # Loading the project already validated every layer; reaching here means it is valid.
    if args.action == "env":
        from helper.running.dotenv import show

        return show(project)
    if args.action == "check":
        data = {
            "valid": True,
            "root": str(project.root),
            "profile": project.profile,
            "files": [str(f) for f in project.files],
        }
        console.result(
            data, lambda d: console.success(f"configuration valid ({', '.join(d['files']) or 'defaults only'})")
        )
        return 0
    settings = {
        key: {
            "value": masked(key, project.config.get(key)),
            "source": project.sources.get(key, "default"),
            "help": SCHEMA[key].help,
        }
        for key in SCHEMA
    }
    data = {
        "root": str(project.root),
        "profile": project.profile,
        "files": [str(f) for f in project.files],
        "settings": settings,
    }

    def render(d: dict[str, Any]) -> None:
        console.echo(f"project: {d['root']}  profile: {d['profile']}")
        rows = [(key, _fmt(s["value"]), s["source"]) for key, s in d["settings"].items()]
        console.table(rows, ("setting", "value", "source"))

    console.result(data, render)
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value)
    return str(value)
