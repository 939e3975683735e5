"""The environment part of every result key: what, when changed, may change every result.

Python version, installed packages (dist-info names, read from the venv's
site-packages without starting it), pytest's configuration, the files in
`test.depends`, the values of `test.env_vars`, and the pytest options that can
change outcomes. Each part is kept by name so `--explain` can say which changed.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

# pytest options that leave tests out; help.py applies them itself (`exclusions`, pipeline.scope), so they
# neither change an outcome nor need pytest started to learn which tests are left.
EXCLUDING = ("--ignore", "--ignore-glob", "--deselect")
# pytest options that only change what is shown or which tests are picked, never an outcome.
HARMLESS_FLAGS = {"-q", "--quiet", "-v", "--verbose", "-x", "--exitfirst", "-s", "-l", "--showlocals", "-ra", "-rA", "--no-header", "--no-summary", "--lf", "--ff", "--sw", "--stepwise", "--co", "--collect-only", "--color=yes", "--color=no", "-vv", "-qq", "--strict-markers", "--durations=0"}  # fmt: skip
HARMLESS_WITH_VALUE = {
    "-p",
    "-n",
    "--numprocesses",
    "--tb",
    "-r",
    "--color",
    "-k",
    "-m",
    "--durations",
    "--maxfail",
    "--junitxml",
    "--junit-xml",
    "--dist",
    "--basetemp",
    "--rootdir",
    *EXCLUDING,
}
FAST_PATH_WITH_VALUE = {"-p", "--tb", "-r", "--color", "--durations", "-n", "--numprocesses", "--dist", *EXCLUDING}
FAST_PATH_FLAGS = {
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "-x",
    "--exitfirst",
    "-s",
    "-l",
    "--showlocals",
    "-ra",
    "-rA",
    "--no-header",
    "--no-summary",
    "-vv",
    "-qq",
    "--color=yes",
    "--color=no",
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def installed(venv: Path) -> list[str]:
    """'name-version' of every distribution in the venv (from dist-info directory names)."""
    from helper.envs.layout import dist_infos

    return sorted(f"{name}-{version}" if version else name for name, version, _path in dist_infos(venv))


def has_distribution(venv: Path, name: str) -> bool:
    wanted = name.lower().replace("-", "_").replace(".", "_")
    return any(n.split("-", 1)[0].lower().replace(".", "_") == wanted for n in installed(venv))


def python_identity(venv: Path) -> str:
    """Version and implementation from pyvenv.cfg (not its paths, so machines can share results)."""
    try:
        text = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return "-"
    keep = ("version", "version_info", "implementation", "include-system-site-packages")
    lines = [line.replace(" ", "") for line in text.splitlines() if line.split("=", 1)[0].strip().lower() in keep]
    return "\n".join(sorted(lines))


def location(venv: Path, root: Path) -> str:
    """Which environment: its path inside the project, else "outside" (results stay shareable across machines)."""
    try:
        return Path(os.path.realpath(venv)).relative_to(os.path.realpath(root)).as_posix()
    except ValueError:
        return "outside"


def split_args(args: list[str]) -> tuple[list[str], list[str], bool]:
    """(path arguments, options that can change outcomes, whether the no-pytest fast path applies)."""
    paths: list[str] = []
    relevant: list[str] = []
    fast = True
    skip_value = False
    after_unknown = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        if not arg.startswith("-"):
            if after_unknown and not os.path.exists(arg.split("::", 1)[0]):
                relevant.append(arg)  # the value of an option help.py does not know
            else:
                paths.append(arg)
            after_unknown = False
            continue
        after_unknown = False
        joined = not arg.startswith("--") and len(arg) > 2 and arg[:2] in HARMLESS_WITH_VALUE
        key = arg[:2] if joined else arg.split("=", 1)[0]
        with_value = key in HARMLESS_WITH_VALUE
        skip_value = with_value and not joined and "=" not in arg
        if key in FAST_PATH_WITH_VALUE or arg in FAST_PATH_FLAGS:
            continue
        fast = False
        if with_value or arg in HARMLESS_FLAGS:
            continue
        relevant.append(arg)
        after_unknown = True
    return paths, relevant, fast


def exclusions(args: list[str]) -> dict[str, list[str]]:
    """The values given to --ignore, --ignore-glob and --deselect in `args`, by option."""
    found: dict[str, list[str]] = {key: [] for key in EXCLUDING}
    pending = None
    for arg in args:
        if pending:
            found[pending].append(arg)
            pending = None
            continue
        key, equals, value = arg.partition("=")
        if key in found:
            if equals:
                found[key].append(value)
            else:
                pending = key
    return found


def parts(
    *,
    venv: Path,
    root: Path,
    pytest_text: str,
    depends: list[str],
    env_vars: list[str],
    options: list[str],
    environ: dict[str, str] | Any,
) -> dict[str, str]:
    """Named digests of everything environment-wide a result depends on."""
    found: dict[str, str] = {}
    found["python"] = _digest(python_identity(venv))
    found["environment"] = _digest(location(venv, root))
    found["packages"] = _digest("\n".join(installed(venv)))
    found["pytest config"] = _digest(pytest_text)
    if depends:
        from helper.fingerprint import sha256_file

        matched = sorted(
            {p for pattern in depends for p in glob.glob(str(root / pattern), recursive=True) if os.path.isfile(p)}
        )
        found["test.depends"] = _digest("\n".join(f"{p}:{sha256_file(p)}" for p in matched) + "|" + "\n".join(depends))
    for name in env_vars:
        found[f"${name}"] = _digest(environ.get(name, "\0unset"))
    if options:
        found["pytest options"] = _digest("\0".join(options))
    return found


def combine(named: dict[str, str]) -> str:
    return _digest("\n".join(f"{k}={v}" for k, v in sorted(named.items())))
