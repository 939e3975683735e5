"""venv + pip: the fallback manager. help.py edits the files itself and pip installs.

Manifests: requirements.txt / requirements-dev.txt / requirements-NAME.txt when the
project has a requirements.txt, else pyproject.toml ([project] dependencies,
[project.optional-dependencies], PEP 735 [dependency-groups]; `--dev` is the
`dev` group). pip has no lock file: the manifest is what gets installed.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from helper.errors import HelpError, UsageError
from helper.managers.base import Manager, Runner, Target, base_python, fresh_pyproject

if TYPE_CHECKING:
    import configparser

    from helper.managers.envcheck import Requirement


# Extras, PEP 735 groups and requirements-NAME.txt files that make up the development set.
DEV_SETS = ("dev", "test", "tests", "testing")


class Pip(Manager):
    name = "pip"

    # -- where requirements live ------------------------------------------------
    def uses_requirements(self) -> bool:
        return (self.root / "requirements.txt").is_file()

    def requirement_files(self) -> list[Path]:
        """requirements.txt first, then requirements-*.txt (dev and groups)."""
        found = sorted(self.root.glob("requirements*.txt"))
        found.sort(key=lambda p: (p.name != "requirements.txt", p.name))
        return found

    def listed_dirs(self) -> list[Path]:
        return [self.root] if self.uses_requirements() else []  # requirements*.txt are globbed

    def manifest_files(self) -> list[Path]:
        files = [self.root / "pyproject.toml"]
        if self.uses_requirements():
            files += self.requirement_files()
        return files

    def _req_file(self, target: Target) -> Path:
        if target.optional:
            raise UsageError(
                "a requirements.txt project has no extras", "use --dev or --group NAME instead of --optional"
            )
        if target.group and target.group != "dev":
            return self.root / f"requirements-{target.group}.txt"
        return self.root / ("requirements-dev.txt" if target.dev or target.group == "dev" else "requirements.txt")

    def _table(self, target: Target) -> tuple[list[str], str]:
        if target.optional:
            return ["project", "optional-dependencies"], target.optional
        if target.group or target.dev:
            return ["dependency-groups"], target.group or "dev"
        return ["project"], "dependencies"

    def wanted(self) -> list[str]:
        """Every requirement to install: main + dev (requirements files, or pyproject)."""
        from helper.managers import reqfile

        if self.uses_requirements():
            reqs: list[str] = []
            for path in self.requirement_files():
                if path.name in ("requirements.txt", *(f"requirements-{name}.txt" for name in DEV_SETS)):
                    reqs += reqfile.requirements(path.read_text(encoding="utf-8"))
            return reqs
        data = fresh_pyproject(self.root)
        project = data.get("project", {}) or {}
        extras = project.get("optional-dependencies", {}) or {}
        if "build-system" in data and project.get("name"):
            # An installable project goes in editable, as uv sync and poetry
            # install do; with its dev and test extras, the pip world's usual dev set.
            dev_extras = [name for name in DEV_SETS if name in extras]
            reqs = ["-e", f".[{','.join(dev_extras)}]" if dev_extras else "."]
        elif not project and self._setuptools_name() is not None:
            # Metadata in setup.cfg / setup.py: installable too, as `pip install -e .` does.
            dev_extras = [name for name in DEV_SETS if name in self._setuptools_extras()]
            reqs = ["-e", f".[{','.join(dev_extras)}]" if dev_extras else "."]
        else:
            # Not installable: its requirements, with the dev and test extras' as above.
            reqs = list(project.get("dependencies", []) or [])
            for name in DEV_SETS:
                reqs += [r for r in extras.get(name, []) or [] if isinstance(r, str)]
        groups = data.get("dependency-groups", {}) or {}
        seen: set[str] = set()
        for name in DEV_SETS:  # e.g. toolz declares pytest only in a `test` group
            reqs += _group(groups, name, seen)
        return reqs

    # -- environment --------------------------------------------------------------
    def env_dir(self) -> Path:
        """install.venv (default .venv); a project that already has its venv in venv/ keeps it there."""
        configured = self.project.sources.get("install.venv", "default") != "default"
        default = super().env_dir()
        legacy = self.root / "venv"
        if not configured and not default.exists() and (legacy / "pyvenv.cfg").is_file():
            return legacy
        return default

    def ensure_env(self, runner: Runner) -> None:
        if self.python().exists():
            return
        base = self.project.config.get("python") or base_python()
        if not Path(base).exists():
            import shutil

            base = shutil.which(str(base)) or shutil.which(f"python{base}") or sys.executable
        runner.run([base, "-m", "venv", str(self.env_dir())], f"creating {self.env_dir().name}")

    def _pip(self, *args: str) -> list[str]:
        return [str(self.python()), "-m", "pip", "--disable-pip-version-check", *args]

    # -- protocol -----------------------------------------------------------------
    def sync(self, runner: Runner) -> None:
        """Install what the manifest asks for, then remove what it no longer does (an exact sync)."""
        self.ensure_env(runner)
        reqs = self.wanted()
        if reqs:
            runner.run(self._pip("install", *reqs), "installing requirements")
        extra = self.unneeded()
        if extra:
            runner.run(self._pip("uninstall", "-y", *extra), "removing what the manifest no longer asks for")

    def roots(self) -> list[str] | None:
        """The requirements the environment must hold, as names; None when they cannot all be named."""
        from helper.managers import reqfile

        roots = ["pip"]
        if self.uses_requirements():
            for path in self.requirement_files():  # every group's file: declared anywhere is kept
                text = path.read_text(encoding="utf-8")
                for line in text.splitlines():
                    stripped = line.strip()
                    if stripped.startswith(("-e", "--editable", "-r", "--requirement", "-c", "--constraint")):
                        return None  # includes and local paths: not every name is known here
                roots += reqfile.requirements(text)
            return roots
        data = fresh_pyproject(self.root)
        project = data.get("project", {}) or {}
        extras = project.get("optional-dependencies", {}) or {}
        if "build-system" in data and project.get("name"):
            roots.append(str(project["name"]))
        elif not project and (setuptools_name := self._setuptools_name()) is not None:
            if not setuptools_name:
                return None  # named only by setup.py's code: what it needs is not known here
            extras_all = self._setuptools_extras()
            roots.append(f"{setuptools_name}[{','.join(extras_all)}]" if extras_all else setuptools_name)
        roots += list(project.get("dependencies", []) or [])
        for reqs in extras.values():  # every extra and group: what is declared anywhere is kept
            roots += [r for r in reqs or [] if isinstance(r, str)]
        groups = data.get("dependency-groups", {}) or {}
        for group in groups:
            roots += _group(groups, group, set())
        return roots

    def _setup_cfg(self) -> configparser.ConfigParser:
        import configparser

        parser = configparser.ConfigParser(interpolation=None)
        with contextlib.suppress(configparser.Error, UnicodeDecodeError):
            parser.read(self.root / "setup.cfg", encoding="utf-8")
        return parser

    def _setuptools_name(self) -> str | None:
        """A setuptools project without [project]: its setup.cfg name, "" when only setup.py names it, else None."""
        if (self.root / "setup.cfg").is_file():
            name = self._setup_cfg().get("metadata", "name", fallback="").strip()
            if name:
                return name
        return "" if (self.root / "setup.py").is_file() else None

    def _setuptools_extras(self) -> list[str]:
        parser = self._setup_cfg()
        return list(parser["options.extras_require"]) if parser.has_section("options.extras_require") else []

    def unneeded(self) -> list[str]:
        """Installed distributions nothing in the manifest needs (pip and the project itself are kept)."""
        from helper.managers import conflicts

        roots = self.roots()
        if roots is None or not self.python().exists():
            return []
        try:
            report = conflicts.needed(self.python(), roots)
        except (HelpError, ValueError):
            return []
        if report.get("unknown"):
            return []  # a requirement this module cannot read: never remove on a guess
        keep = set(report.get("needed") or [])
        return sorted(name for name in self.installed() if name not in keep)

    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None:

        for req in requirements:
            self._record(req, target)
        self.ensure_env(runner)
        runner.run(
            self._pip("install", *[r.text for r in requirements]),
            "installing " + ", ".join(r.name for r in requirements),
        )
        installed = self.installed()
        for req in requirements:
            bounded = _with_lower_bound(req, installed)
            if bounded is not req:
                self._record(bounded, target)  # the bare name becomes name>=<what was installed>

    def _record(self, req: Requirement, target: Target) -> None:
        from helper.fsutil import atomic_write
        from helper.managers import reqfile, tomledit

        if self.uses_requirements():
            path = self._req_file(target)
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            new, changed = reqfile.add(text, req.text, req.key)
        else:
            path = self.root / "pyproject.toml"
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            table, key = self._table(target)
            new, changed = tomledit.edit_array(
                text, table, key, add=req.text, replace_if=_same_project(req.key), source=path.name
            )
        if changed:
            atomic_write(path, new)

    def remove(self, runner: Runner, names: list[str], target: Target) -> None:
        from helper.fsutil import atomic_write
        from helper.managers import reqfile, tomledit
        from helper.names import canonical

        keys = {canonical(n) for n in names}
        for path in self.manifest_files():
            if not path.exists():
                continue
            text = path.read_text(encoding="utf-8")
            new, changed = text, False
            if path.suffix == ".txt":
                for key in keys:
                    new, did = reqfile.remove(new, key)
                    changed |= did
            else:
                for table, key in self._arrays(fresh_pyproject(self.root)):
                    new, did = tomledit.edit_array(
                        new, table, key, remove_if=lambda v: _key(v) in keys, source=path.name
                    )
                    changed |= did
            if changed:
                atomic_write(path, new)
        if self.python().exists():
            runner.run(self._pip("uninstall", "-y", *names), "uninstalling " + ", ".join(names))
            orphans = self.unneeded()  # what only the removed packages needed goes too, as uv remove does
            if orphans:
                runner.run(self._pip("uninstall", "-y", *orphans), "removing what nothing needs any more")

    def _arrays(self, data: dict) -> list[tuple[list[str], str]]:
        arrays: list[tuple[list[str], str]] = [(["project"], "dependencies")]
        arrays += [
            (["project", "optional-dependencies"], k)
            for k in (data.get("project", {}).get("optional-dependencies") or {})
        ]
        arrays += [(["dependency-groups"], k) for k in (data.get("dependency-groups") or {})]
        return arrays

    def upgrade(self, runner: Runner, names: list[str]) -> None:
        self.ensure_env(runner)
        from helper.names import canonical

        wanted = self.wanted()
        if names:
            keys = {canonical(n) for n in names}
            picked = [r for r in wanted if _key(r) in keys] + [
                n for n in names if canonical(n) not in {_key(r) for r in wanted}
            ]
        else:
            picked = wanted
        if picked:
            runner.run(self._pip("install", "--upgrade", *picked), "upgrading " + (", ".join(names) or "everything"))

    def lock(self, runner: Runner) -> None:
        raise UsageError(
            "pip has no lock file", "pin versions in requirements.txt, or use uv, poetry or pdm for a lock file"
        )

    def outdated(self, runner: Runner) -> list[dict[str, str]]:
        result = runner.run(self._pip("list", "--outdated", "--format", "json"), "checking for newer versions")
        start = result.stdout.find("[")
        rows = json.loads(result.stdout[start:]) if start >= 0 else []
        return [{"name": r["name"], "version": r["version"], "latest": r["latest_version"]} for r in rows]

    def restore_env(self, runner: Runner, before: dict[str, str]) -> None:
        """Put back exactly the versions installed before: uninstall the new, reinstall the changed."""
        now = self.installed()
        added = [n for n in now if n not in before]
        changed = [f"{n}=={before[n]}" for n in before if n in now and now[n] != before[n]]
        missing = [f"{n}=={before[n]}" for n in before if n not in now]
        if added:
            runner.run(self._pip("uninstall", "-y", *added), "removing what the failed install added")
        if changed or missing:
            runner.run(self._pip("install", "--no-deps", *changed, *missing), "restoring the previous versions")

    def declared(self) -> list[str]:
        from helper.managers import reqfile

        if self.uses_requirements():
            names: list[str] = []
            for path in self.requirement_files():
                names += reqfile.names(path.read_text(encoding="utf-8"))
            return names
        return super().declared()


def _with_lower_bound(req: Requirement, installed: dict[str, str]) -> Requirement:
    """A bare `name` becomes `name>=<the version installed>`, as uv and poetry write it."""
    from helper.managers.envcheck import Requirement

    version = installed.get(req.key)
    if req.specifier or req.url or not version:
        return req
    extras = f"[{','.join(req.extras)}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return Requirement(f"{req.name}{extras}>={version}{marker}")


def _same_project(key: str) -> Callable[[str], bool]:
    return lambda text: _key(text) == key


def _key(text: str) -> str:
    from helper.managers.envcheck import Requirement

    try:
        return Requirement(text).key
    except ValueError:
        return ""


def _group(groups: dict, name: str, seen: set[str]) -> list[str]:
    """A PEP 735 group's requirements with {include-group = ...} expanded."""
    if name in seen:
        return []
    seen.add(name)
    reqs: list[str] = []
    for item in groups.get(name, []) or []:
        if isinstance(item, str):
            reqs.append(item)
        elif isinstance(item, dict) and "include-group" in item:
            reqs += _group(groups, item["include-group"], seen)
    return reqs
