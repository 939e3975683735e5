"""`env check`: is the project's environment healthy? Each finding carries the command that fixes it.

Pipeline: pick the project's env -> interpreter present and running -> moved
or base Python gone -> version against requires-python and .python-version ->
lock file against pyproject -> declared packages present and in range ->
conflicts. Each step adds findings; `repair` acts on their `action`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helper.envs.base import Env, parse_cfg
from helper.envs.detect import Detection
from helper.envs.layout import BIN
from helper.envs.specifiers import evaluate_marker, matches, parse_requirement
from helper.names import canonical

if TYPE_CHECKING:
    from helper.managers.base import Manager


def manager_class(name: str | None) -> type[Manager] | None:
    """The manager module's class that owns what help.py knows of the tool (lock, its check, sync)."""
    from helper.managers.registry import MANAGERS
    from helper.managers.registry import manager_class as load

    return load(name) if name in MANAGERS else None


def lock_name(manager: str | None) -> str | None:
    cls = manager_class(manager)
    return cls.lock_file if cls else None


def sync_fix(manager: str | None, default: str) -> str:
    cls = manager_class(manager)
    return cls.sync_command if cls and cls.lock_file else default


@dataclass
class Finding:
    check: str
    status: str  # ok | warn | fail
    detail: str
    fix: str | None = None  # the command that fixes it, for people
    action: str | None = None  # what `env repair` does: recreate | sync | lock | create | install

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Health:
    env: Env | None
    manager: str | None
    findings: list[Finding]
    facts: dict[str, Any] | None = None  # what the interpreter said about itself
    manager_reason: str = ""

    @property
    def ok(self) -> bool:
        return not any(f.status == "fail" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.env.to_dict() if self.env else None,
            "manager": self.manager,
            "manager_reason": self.manager_reason,
            "ok": self.ok,
            "findings": [f.to_dict() for f in self.findings],
        }


def project_manager(project: Any) -> tuple[str, str]:
    """The tool that owns the project and why: the registry's one decision."""
    from helper.managers.registry import decide

    return decide(project)


def project_env(found: Detection) -> Env | None:
    """The project's own environment (even a broken one); else the chosen one."""
    own = [e for e in found.envs if e.project and e.kind not in ("pyenv", "system")]
    return own[0] if own else found.chosen


def declared(pyproject: dict[str, Any]) -> list[str]:
    deps = list(pyproject.get("project", {}).get("dependencies") or [])
    poetry = pyproject.get("tool", {}).get("poetry", {}).get("dependencies") or {}
    for name, spec in poetry.items():
        if name.lower() == "python":
            continue
        if isinstance(spec, str):
            deps.append(name + _poetry_spec(spec))
        elif isinstance(spec, dict) and "version" in spec and not spec.get("optional"):
            deps.append(name + _poetry_spec(str(spec["version"])))
    return [d for d in deps if isinstance(d, str)]


def _poetry_spec(spec: str) -> str:
    """Poetry's ^1.2 / ~1.2 / * constraints as PEP 440 specifiers."""
    spec = spec.strip()
    if spec in ("*", ""):
        return ""
    if spec[0] in "^~" and spec[1:2] != "=":
        parts = [int(p) for p in re.findall(r"\d+", spec[1:])[:3]] or [0]
        if spec[0] == "^":
            index = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
        else:
            index = 0 if len(parts) == 1 else 1
        upper = parts[: index + 1]
        upper[-1] += 1
        return f">={'.'.join(map(str, parts))},<{'.'.join(map(str, upper))}"
    return spec if spec[0] in "<>=!~" else f"=={spec}"


# -- the steps ------------------------------------------------------------------


def check_presence(env: Env | None, found: Detection, manager: str | None) -> list[Finding]:
    create = "help.py env create"
    if env is None:
        detail = "the project's environment does not exist yet (help.py install or env create makes it)"
        return [Finding("environment", "warn", detail, create, "create")]
    if not env.exists:
        return [Finding("environment", "fail", env.reason, sync_fix(env.manager, create), "create")]
    if not env.project:
        detail = f"the project has no environment of its own; {env.executable} would be used ({env.reason})"
        return [Finding("environment", "warn", detail, create, "create")]
    return [Finding("environment", "ok", f"{env.kind} environment {env.prefix} ({env.reason})")]


def check_moved(env: Env) -> list[Finding]:
    """A venv copied or moved elsewhere keeps old paths in its scripts and activate."""
    if not env.prefix or not (Path(env.prefix) / "pyvenv.cfg").is_file():
        return []
    prefix = Path(env.prefix)
    cfg = parse_cfg((prefix / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace"))
    findings = []
    home = cfg.get("home")
    if home and not Path(home).is_dir():
        findings.append(Finding("base python", "fail", f"the Python this env was made from is gone: home = {home} (pyvenv.cfg)",
                                "help.py env repair", "recreate"))  # fmt: skip
    old = moved_from(prefix)
    if old:
        findings.append(Finding("location", "fail", f"{prefix} was moved from {old}; its scripts still point there",
                                "help.py env repair", "recreate"))  # fmt: skip
    return findings


def moved_from(prefix: Path) -> str | None:
    """The old prefix a venv's activate script or script shebangs name, if not this one."""
    activate = prefix / BIN / "activate"
    if activate.is_file():
        match = re.search(
            r"""^\s*(?:export\s+)?VIRTUAL_ENV=["']?([^"'\n]+)["']?\s*$""", activate.read_text(errors="replace"), re.M
        )
        if match and "$" not in match.group(1) and os.path.realpath(match.group(1)) != os.path.realpath(prefix):
            return match.group(1)
    for script in sorted((prefix / BIN).glob("*"))[:50]:
        try:
            with open(script, "rb") as handle:
                first = handle.readline(512)
        except OSError:
            continue
        if first.startswith(b"#!") and b"/bin/python" in first:
            target = first[2:].strip().split(b" ")[0].decode(errors="replace")
            owner = os.path.dirname(os.path.dirname(target))
            if os.path.realpath(owner) != os.path.realpath(prefix) and not os.path.exists(target):
                return owner
    return None


def check_interpreter(env: Env) -> tuple[list[Finding], dict[str, Any] | None]:
    from helper.envs.probe import probe

    if env.problem:
        return [Finding("interpreter", "fail", env.problem, "help.py env repair", "recreate")], None
    facts, why = probe(env.executable or "")
    if facts is None:
        return [
            Finding("interpreter", "fail", f"{env.executable} does not run: {why}", "help.py env repair", "recreate")
        ], None
    return [Finding("interpreter", "ok", f"{env.executable} runs Python {facts['version']}")], facts


def check_version(
    root: Path, pyproject: dict[str, Any], facts: dict[str, Any], setting: str | None = None
) -> list[Finding]:
    findings = []
    version = facts["version"]
    if setting and "/" not in setting and not (version == setting or version.startswith(setting + ".")):
        findings.append(Finding("python setting", "warn", f"the `python` setting asks for {setting}, the environment has {version}",
                                f"help.py env create --force --python {setting}", None))  # fmt: skip
    requires = pyproject.get("project", {}).get("requires-python")
    if requires:
        ok = matches(version, requires)
        if ok is False:
            findings.append(Finding("requires-python", "fail", f"Python {version} does not satisfy requires-python {requires!r}",
                                    "help.py env create --force --python X.Y (a version that fits)", None))  # fmt: skip
        elif ok:
            findings.append(Finding("requires-python", "ok", f"{version} satisfies {requires!r}"))
    pinned = root / ".python-version"
    if pinned.is_file():
        wanted = next(
            (
                ln.strip()
                for ln in pinned.read_text(errors="replace").splitlines()
                if ln.strip() and not ln.startswith("#")
            ),
            "",
        )
        if wanted and wanted != "system" and not (version == wanted or version.startswith(wanted + ".")):
            findings.append(Finding(".python-version", "warn", f".python-version asks for {wanted}, the environment has {version}",
                                    f"help.py env create --force --python {wanted}", None))  # fmt: skip
        elif wanted:
            findings.append(Finding(".python-version", "ok", f"{version} matches {wanted}"))
    return findings


def check_lock(root: Path, manager: str | None, offline: bool) -> list[Finding]:
    from helper import proc

    cls = manager_class(manager)
    if cls is None or cls.lock_file is None or manager is None:
        return []
    lock = root / cls.lock_file
    if not lock.is_file():
        return [Finding("lock", "warn", f"{manager} project without {lock.name}", f"{manager} lock", "lock")]
    if offline:
        return []
    tool = shutil.which(manager)
    if tool is None:
        return [
            Finding("lock", "warn", f"cannot check {lock.name}: `{manager}` is not installed", f"pip install {manager}")
        ]
    result = proc.run([tool, *cls.lock_check], cwd=root, timeout=120)
    if result.ok:
        return [Finding("lock", "ok", f"{lock.name} is up to date with pyproject.toml")]
    lines = (result.stderr + result.stdout).strip().splitlines()
    why = lines[-1] if lines else f"exit code {result.returncode}"
    return [
        Finding("lock", "fail", f"{lock.name} is out of date with pyproject.toml: {why}", f"{manager} lock", "lock")
    ]


def check_packages(pyproject: dict[str, Any], facts: dict[str, Any], manager: str | None) -> list[Finding]:
    if facts.get("dists") is None:
        return [Finding("packages", "warn", "could not list the installed packages", None)]
    have = {canonical(name): version for name, version in facts["dists"]}
    project_name = canonical(str(pyproject.get("project", {}).get("name") or ""))
    fix = sync_fix(manager, "help.py env repair")
    missing, wrong, unsure = [], [], []
    for text in declared(pyproject):
        req = parse_requirement(text)
        if req is None:
            unsure.append(text)
            continue
        if req.marker:
            applies = evaluate_marker(req.marker, facts["markers"])
            if applies is None:
                unsure.append(text)
                continue
            if not applies:
                continue
        version = have.get(req.key)
        if version is None:
            missing.append(text)
        elif req.specifier and matches(version, req.specifier) is False:
            wrong.append(f"{req.name} {version} (wants {req.specifier})")
    findings = []
    if missing:
        findings.append(
            Finding(
                "packages", "fail", f"{len(missing)} required package(s) missing: {', '.join(missing)}", fix, "install"
            )
        )
    if wrong:
        findings.append(Finding("versions", "fail", f"wrong versions installed: {', '.join(wrong)}", fix, "install"))
    if unsure:
        findings.append(Finding("packages", "warn", f"could not evaluate: {', '.join(unsure)}", None))
    if not missing and not wrong:
        count = len(declared(pyproject))
        findings.append(
            Finding(
                "packages",
                "ok",
                f"all {count} declared dependencies installed" if count else "no declared dependencies",
            )
        )
    if project_name and project_name not in have and pyproject.get("build-system"):
        findings.append(Finding("project", "warn", f"the project itself ({project_name}) is not installed in the environment",
                                fix, "install"))  # fmt: skip
    return findings


def check_conflicts(env: Env, facts: dict[str, Any]) -> list[Finding]:
    from helper import proc

    exe = env.executable or ""
    uv = shutil.which("uv")
    names = {canonical(n) for n, _ in facts.get("dists") or []}
    if uv:
        cmd = [uv, "pip", "check", "--python", exe]
    elif "pip" in names:
        cmd = [exe, "-m", "pip", "check", "--disable-pip-version-check"]
    else:
        return []
    result = proc.run(cmd, timeout=120)
    text = (result.stdout + result.stderr).strip()
    if result.ok:
        return [Finding("conflicts", "ok", "no broken requirements between installed packages")]
    problems = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.lower().startswith(("checked", "found", "resolved", "using"))
    ]
    return [Finding("conflicts", "fail", "; ".join(problems[:5]) or text[-300:], "help.py env repair", "install")]


def check(project: Any, found: Detection, *, offline: bool = False) -> Health:
    """Run every step on the project's environment."""
    pyproject = project.pyproject if (project.root / "pyproject.toml").is_file() else {}
    manager, manager_reason = project_manager(project)
    env = project_env(found)
    findings = check_presence(env, found, manager)
    facts = None
    if env is not None and env.exists:
        findings += check_moved(env)
        steps, facts = check_interpreter(env)
        findings += steps
        if facts is not None:
            findings += check_version(project.root, pyproject, facts, project.config.get("python"))
    findings += check_lock(project.root, manager, offline)
    if env is not None and facts is not None and env.project:
        findings += check_packages(pyproject, facts, manager)
        findings += check_conflicts(env, facts)
    for problem in found.errors:
        findings.append(Finding("detection", "warn", problem, "raise env.timeout or add the kind to env.disabled"))
    return Health(env=env, manager=manager, findings=findings, facts=facts, manager_reason=manager_reason)
