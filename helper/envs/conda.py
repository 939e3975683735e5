"""conda, mamba, micromamba and pixi environments: any prefix with a conda-meta/ directory.

Found from CONDA_PREFIX, ~/.conda/environments.txt, the envs_dirs of .condarc
and the usual install roots; a project's own env comes from environment.yml's
`name:`/`prefix:`, a local .conda/ or pixi's .pixi/envs/.
"""

from __future__ import annotations

from pathlib import Path

from helper.envs.base import Context, Env, conda_python, interpreter, rel

KIND = "conda"
PRIORITY = 60
ROOTS = ("miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba", ".conda", "conda")


def manager(ctx: Context, prefix: Path) -> str:
    """Which tool made a conda prefix, from conda-meta/history's `# cmd:` lines or pixi's marker."""
    if ctx.exists(prefix / "conda-meta" / "pixi"):
        return "pixi"
    text = ctx.read_text(prefix / "conda-meta" / "history") or ""
    for line in text.splitlines():
        if line.startswith("# cmd:"):
            tool = line[6:].strip().split(" ", 1)[0].rsplit("/", 1)[-1]
            for known in ("micromamba", "mamba", "conda", "pixi"):
                if tool.startswith(known):
                    return known
    return "conda"


def condarc_envs_dirs(text: str) -> list[str]:
    """The `envs_dirs:` list of a .condarc (a YAML subset: block or flow list)."""
    dirs: list[str] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("envs_dirs:"):
            continue
        rest = line.split(":", 1)[1].strip()
        if rest.startswith("["):
            return [p.strip().strip("'\"") for p in rest.strip("[]").split(",") if p.strip()]
        for item in lines[number + 1 :]:
            stripped = item.strip()
            if stripped.startswith("- "):
                dirs.append(stripped[2:].strip().strip("'\""))
            elif stripped and not stripped.startswith("#"):
                break
    return dirs


def _env_dirs(ctx: Context) -> list[Path]:
    dirs: list[Path] = []
    for variable in ("CONDA_ENVS_PATH", "CONDA_ENVS_DIRS"):
        for part in (ctx.env(variable) or "").split(":"):
            if part:
                dirs.append(ctx.sys(part))
    for rc in (ctx.home / ".condarc", ctx.home / ".config" / "conda" / ".condarc", ctx.sys("/opt/conda/.condarc")):
        text = ctx.read_text(rc)
        if text:
            dirs.extend(ctx.sys(d) for d in condarc_envs_dirs(text))
    return dirs


def _roots(ctx: Context) -> list[Path]:
    roots = [ctx.home / name for name in ROOTS] + [ctx.sys("/opt/conda"), ctx.sys("/opt/miniconda3")]
    for variable in ("MAMBA_ROOT_PREFIX",):
        if ctx.env(variable):
            roots.insert(0, ctx.sys(ctx.env(variable) or ""))
    exe = ctx.env("CONDA_EXE")
    if exe:
        roots.insert(0, ctx.sys(exe).parent.parent)
    return roots


def prefixes(ctx: Context) -> list[Path]:
    """Every conda-style prefix known on this machine (roots and their envs)."""
    seen: dict[str, Path] = {}
    text = ctx.read_text(ctx.home / ".conda" / "environments.txt") or ""
    candidates = [ctx.sys(line.strip()) for line in text.splitlines() if line.strip()]
    for root in _roots(ctx):
        candidates.append(root)
        candidates.extend(root / "envs" / n for n in ctx.listdir(root / "envs"))
    for directory in _env_dirs(ctx):
        candidates.extend(directory / n for n in ctx.listdir(directory))
    for path in candidates:
        if str(path) not in seen and ctx.is_dir(path / "conda-meta"):
            seen[str(path)] = path
    return list(seen.values())


def _project_wants(ctx: Context) -> tuple[set[str], set[str], str]:
    """Names and prefixes the project's environment.yml asks for."""
    for name in ("environment.yml", "environment.yaml"):
        text = ctx.read_text(ctx.project / name)
        if text is None:
            continue
        names, paths = set(), set()
        for line in text.splitlines():
            if line.startswith("name:"):
                names.add(line.split(":", 1)[1].strip().strip("'\""))
            elif line.startswith("prefix:"):
                paths.add(str(ctx.sys(line.split(":", 1)[1].strip().strip("'\""))))
        return names, paths, name
    return set(), set(), ""


def make_env(ctx: Context, prefix: Path, *, kind: str = KIND, name: str | None = None) -> Env:
    exe = interpreter(ctx, prefix)
    tool = manager(ctx, prefix)
    env = Env(
        kind="pixi" if tool == "pixi" and kind == KIND else kind,
        name=name or ("base" if ctx.is_dir(prefix / "condabin") or ctx.is_dir(prefix / "pkgs") else prefix.name),
        prefix=str(prefix),
        executable=str(exe) if exe else None,
        version=conda_python(ctx, prefix),
        manager=tool,
    )
    if exe is None:
        env.problem = "no python installed in this conda environment"
    return env


def detect(ctx: Context) -> list[Env]:
    found: list[Env] = []
    names, paths, yml = _project_wants(ctx)
    pixi = ctx.exists(ctx.project / "pixi.toml") or ctx.tool("pixi") is not None
    pixi_dir = ctx.project / ".pixi" / "envs"
    for name in ctx.listdir(pixi_dir):
        if ctx.is_dir(pixi_dir / name / "conda-meta"):
            env = make_env(ctx, pixi_dir / name, kind="pixi", name=name)
            env.manager, env.project = "pixi", str(ctx.project)
            env.confidence = 0.95 if name == "default" else 0.8
            env.reason = (
                f"pixi project: {'pixi.toml' if pixi else 'pixi manifest'} and {rel(ctx, pixi_dir / name)}/conda-meta"
            )
            found.append(env)
    local = ctx.project / ".conda"
    if ctx.is_dir(local / "conda-meta"):
        env = make_env(ctx, local, name=".conda")
        env.project, env.confidence = str(ctx.project), 0.85
        env.reason = "conda environment in the project: .conda/conda-meta"
        found.append(env)
    for prefix in prefixes(ctx):
        env = make_env(ctx, prefix)
        if env.name in names or str(prefix) in paths:
            env.project, env.confidence = str(ctx.project), 0.88
            env.reason = f"conda project: {yml} asks for {env.name!r}, found at {prefix}"
        else:
            env.confidence = 0.3 if env.name != "base" else 0.25
            env.reason = f"{env.manager} environment at {prefix}"
        found.append(env)
    if names and not any(e.project for e in found if e.kind == KIND):
        want = sorted(names)[0]
        found.append(Env(kind=KIND, name=want, prefix=None, executable=None, manager="conda", project=str(ctx.project),
                         confidence=0.5, exists=False,
                         reason=f"{yml} asks for conda env {want!r}, which does not exist; run `conda env create -f {yml}`"))  # fmt: skip
    return found
