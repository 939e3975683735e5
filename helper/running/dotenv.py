"""The .env file: parsed, generated from a template per profile, shown masked.

Template syntax (config/env.template or .env.example; dotenv lines plus):

    KEY=literal                 copied as is
    KEY=${secret:32}            32 random bytes, URL-safe base64 (secrets.token_urlsafe)
    KEY=${hex:16}               16 random bytes as hex
    KEY=${uuid}                 a random UUID
    KEY=${required}             must be given: in the existing .env or the environment
    KEY=${required:what it is}  the same, with a hint shown when it is missing
    KEY=${env:NAME}             the value of NAME in the environment (${env:NAME:default})
    KEY=${profile}              the active profile's name
    KEY@production=...          this line only for the profile(s) named (comma-separated);
                                it overrides the plain KEY line for them
    $${                         a literal "${"

Generators may sit inside a value: `DATABASE_URL=postgres://app:${hex:12}@localhost/app_${profile}`.
Existing keys of the .env are never changed; only missing keys are appended. A
required key that stays empty is an error naming it and nothing is written.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

from helper.config_schema import is_secret
from helper.errors import ConfigError
from helper.fsutil import FileLock, atomic_write
from helper.records import Factory, Record

TYPE_CHECKING = False  # typing itself costs ~5 ms to import; annotations are strings here
if TYPE_CHECKING:
    from typing import Any

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z0-9_.,-]+))?\s*=\s*(.*?)\s*$")
_TOKEN = re.compile(r"\$\$\{|\$\{([a-z_]+)(?::([^}]*))?\}")
_SAFE = re.compile(r"^[A-Za-z0-9_./:@%+=,~*-]*$")
_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@]*:)([^@]+)(@)", re.IGNORECASE)
GENERATORS = ("secret", "hex", "uuid", "required", "env", "profile")
MASK = "****"


class Entry(Record):
    key: str
    value: str
    line: int
    profiles: tuple[str, ...] = ()  # empty: every profile


class EnvResult(Record):
    """What `ensure` did: the file, its values, which keys it added."""

    path: Path
    template: Path | None
    values: dict[str, str]
    added: list[str] = Factory(list)
    secret_keys: set[str] = Factory(set)
    written: bool = False


def _unquote(raw: str, where: str) -> str:
    if raw[:1] not in ("'", '"'):
        # An unquoted value ends at " #" (an inline comment).
        return re.split(r"\s+#", raw, maxsplit=1)[0].strip()
    quote, out, i, end = raw[0], [], 1, -1
    while i < len(raw):
        char = raw[i]
        if quote == '"' and char == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if char == quote:
            end = i
            break
        out.append(char)
        i += 1
    if end < 0:
        raise ConfigError(f"unterminated {quote} quote", "close the quote on the same line", where=where)
    rest = raw[end + 1 :].strip()
    if rest and not rest.startswith("#"):
        raise ConfigError(
            f"unexpected text after the quoted value: {rest[:20]!r}", "quote the whole value", where=where
        )
    return "".join(out)


def parse(text: str, source: str, *, allow_profiles: bool = False) -> list[Entry]:
    """dotenv lines -> entries; a malformed line is a ConfigError naming source:line."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{source}:{number}"
        match = _LINE.match(line)
        if not match:
            raise ConfigError(
                f"not a KEY=value line: {stripped[:40]!r}", "write it as NAME=value (a # starts a comment)", where=where
            )
        key, profiles, raw = match.groups()
        if profiles and not allow_profiles:
            raise ConfigError(
                f"{key}@{profiles}: profile selectors belong in the template, not in {Path(source).name}",
                "remove the @profile part",
                where=where,
            )
        entries.append(Entry(key, _unquote(raw, where), number, tuple(p for p in (profiles or "").split(",") if p)))
    return entries


def read_text(path: Path) -> str:
    """A template or env file's text; not UTF-8 or unreadable is a ConfigError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path.name} is not UTF-8 text", "save it as UTF-8; nothing was written", where=str(path)
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path.name}: {exc.strerror}", "check the file and its permissions", where=str(path)
        ) from None


def read(path: Path) -> dict[str, str]:
    """The values of an env file (later lines win), {} when it does not exist."""
    if not path.is_file():
        return {}
    return {e.key: e.value for e in parse(read_text(path), str(path))}


def for_profile(entries: list[Entry], profile: str) -> list[Entry]:
    """The template's entries that apply to `profile`, a profile line overriding the plain one."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        if entry.profiles and profile not in entry.profiles:
            continue
        if entry.key in chosen and not entry.profiles and chosen[entry.key].profiles:
            continue  # a profile-specific line already won
        chosen[entry.key] = entry
    return sorted(chosen.values(), key=lambda e: e.line)


class _Missing(Exception):
    def __init__(self, hint: str) -> None:
        self.hint = hint


def render(
    value: str, *, profile: str, environ: Mapping[str, str], where: str, generate: bool = True
) -> tuple[str, bool]:
    """Expand the generators in one template value -> (value, holds a generated secret).

    With generate=False the value is only checked (for keys the .env already has):
    no random value is made, so the secrets module is not even imported.
    """
    secret = False

    def expand(match: re.Match[str]) -> str:
        nonlocal secret
        if match.group(0) == "$${":
            return "${"
        name, arg = match.group(1), match.group(2)
        if name in ("secret", "hex"):
            try:
                size = int(arg) if arg else 32
            except ValueError:
                raise ConfigError(
                    f"${{{name}:{arg}}}: the size must be a number of bytes", f"write ${{{name}:32}}", where=where
                ) from None
            if not 1 <= size <= 1024:
                raise ConfigError(f"${{{name}:{arg}}}: size out of range", "use 1 to 1024 bytes", where=where)
            secret = True
            if not generate:
                return ""
            import secrets

            return secrets.token_urlsafe(size) if name == "secret" else secrets.token_hex(size)
        if name == "uuid":
            if not generate:
                return ""
            import uuid

            return str(uuid.uuid4())
        if name == "profile":
            return profile
        if name == "env":
            var, _, default = (arg or "").partition(":")
            if not var:
                raise ConfigError("${env:NAME} needs a variable name", "write ${env:HOME}", where=where)
            return environ.get(var, default)
        if name == "required":
            raise _Missing(arg or "")
        raise ConfigError(f"unknown generator ${{{name}}}", f"use one of: {', '.join(GENERATORS)}", where=where)

    return _TOKEN.sub(expand, value), secret


def quote(value: str) -> str:
    if _SAFE.match(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def find_template(root: Path, profile: str, configured: str | None) -> Path | None:
    if configured:
        path = root / configured
        if not path.is_file():
            raise ConfigError(f"run.env_template {configured} does not exist", "create it or remove the setting")
        return path
    for rel in (f"config/env.{profile}.template", "config/env.template", f".env.{profile}.example", ".env.example"):
        if (root / rel).is_file():
            return root / rel
    return None


def env_path(root: Path, profile: str, configured: str | None) -> Path:
    if configured:
        return root / configured
    return root / (".env" if profile == "development" else f".env.{profile}")


def ensure(
    root: Path,
    profile: str,
    *,
    template: Path | None,
    target: Path,
    environ: Mapping[str, str] | None = None,
    lock_dir: Path | None = None,
) -> EnvResult:
    """Add the template's missing keys to `target` (0600, atomic); existing values are kept."""
    environ = os.environ if environ is None else environ
    if template is None:
        return EnvResult(target, None, read(target))
    lock = FileLock((lock_dir or target.parent) / f".{target.name}.lock", timeout=30)
    with lock:
        tmpl_text = read_text(template)
        entries = for_profile(parse(tmpl_text, str(template), allow_profiles=True), profile)
        existing_text = read_text(target) if target.exists() else ""
        existing = {e.key: e.value for e in parse(existing_text, str(target))}
        result = EnvResult(target, template, dict(existing))
        missing: list[tuple[Entry, str]] = []
        new_lines: list[str] = []
        for entry in entries:
            where = f"{template}:{entry.line}"
            try:
                value, secret = render(
                    entry.value, profile=profile, environ=environ, where=where, generate=entry.key not in existing
                )
            except _Missing as gap:
                result.secret_keys.add(entry.key)
                if existing.get(entry.key) or environ.get(entry.key):
                    continue
                missing.append((entry, gap.hint))
                continue
            if secret:
                result.secret_keys.add(entry.key)
            if entry.key in existing:
                continue
            result.values[entry.key] = value
            result.added.append(entry.key)
            new_lines.append(f"{entry.key}={quote(value)}")
        if missing:
            names = ", ".join(e.key + (f" ({hint})" if hint else "") for e, hint in missing)
            first = missing[0][0]
            raise ConfigError(
                f"required key{'s' if len(missing) > 1 else ''} without a value: {names}",
                f"set {'them' if len(missing) > 1 else 'it'} in {target.name} (or the environment) and run again; nothing was written",
                where=f"{template}:{first.line}",
            )
        if new_lines:
            head = existing_text if not existing_text or existing_text.endswith("\n") else existing_text + "\n"
            stamp = time.strftime("%Y-%m-%d")
            block = f"# added from {template.name} for profile {profile} on {stamp}\n" + "\n".join(new_lines) + "\n"
            atomic_write(target, head + ("\n" if head else "") + block, mode=0o600)
            result.written = True
    return result


def mask(key: str, value: str, secret_keys: set[str] | frozenset[str] = frozenset()) -> str:
    """The value as it may be shown: secrets hidden, a URL's password hidden."""
    if not value:
        return value
    if key in secret_keys or is_secret(key):
        return MASK
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), value)


def describe(root: Path, profile: str, template: Path | None, target: Path) -> dict[str, Any]:
    """The env file's keys with masked values, plus template keys it does not have yet."""
    values = read(target)
    secret_keys: set[str] = set()
    pending: list[str] = []  # keys `run env` adds (generated or defaulted)
    required: dict[str, str] = {}  # keys only the user can give: key -> the template's hint
    if template is not None:
        for entry in for_profile(parse(read_text(template), str(template), allow_profiles=True), profile):
            if re.search(r"\$\{(secret|hex|required)", entry.value):
                secret_keys.add(entry.key)
            if entry.key in values:
                continue
            need = re.search(r"\$\{required(?::([^}]*))?\}", entry.value)
            if need is None:
                pending.append(entry.key)
            elif not os.environ.get(entry.key):
                required[entry.key] = need.group(1) or ""
    mode = target.stat().st_mode & 0o777 if target.is_file() else None
    return {
        "file": str(target),
        "exists": target.is_file(),
        "mode": oct(mode) if mode is not None else None,
        "template": str(template) if template else None,
        "profile": profile,
        "values": {key: mask(key, value, secret_keys) for key, value in values.items()},
        "pending": pending,
        "required": required,
    }


def show(project: Any) -> int:
    """`config env`: the profile's env file, secrets masked (values never printed in clear)."""
    from helper.ui import console

    template = find_template(project.root, project.profile, project.config["run.env_template"])
    target = env_path(project.root, project.profile, project.config["run.env_file"])
    data = describe(project.root, project.profile, template, target)

    def render(d: dict[str, Any]) -> None:
        mode = f" (mode {d['mode'][2:]})" if d["mode"] else ""
        console.echo(f"{d['file']}{mode}  profile: {d['profile']}  template: {d['template'] or '-'}")
        if not d["exists"]:
            console.echo("  not created yet: `help.py run env` creates it from the template")
        console.table([(k, v) for k, v in d["values"].items()], ("key", "value"))
        if d["pending"]:
            console.echo(
                f"in the template, not in the file yet: {', '.join(d['pending'])} (`help.py run env` adds them)"
            )
        name = Path(d["file"]).name
        for key, hint in d["required"].items():
            console.echo(
                f"required, no value yet: {key}{f' ({hint})' if hint else ''}: set it yourself, as a line"
                f" {key}=... in {name} or an exported {key}; `help.py run` stops until it has one"
            )

    console.result(data, render)
    return 0
