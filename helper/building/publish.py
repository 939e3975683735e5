"""Upload artifacts: `uv publish` or twine when present, else the legacy upload API directly.

Credentials come from the environment only (UV_PUBLISH_TOKEN, TWINE_USERNAME /
TWINE_PASSWORD, UV_PUBLISH_USERNAME / UV_PUBLISH_PASSWORD; build.username may
name the user). They are handed to the tool through its environment, never on
a command line, and scrubbed from any message shown.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from helper import proc
from helper.errors import HelpError
from helper.ui import console

# METADATA header -> field of the legacy upload form (list-valued when repeated).
_MULTI = {"classifier": "classifiers", "requires-dist": "requires_dist", "project-url": "project_urls",
          "provides-extra": "provides_extra", "requires-external": "requires_external", "dynamic": "dynamic",
          "license-file": "license_files", "obsoletes-dist": "obsoletes_dist", "provides-dist": "provides_dist"}  # fmt: skip


def credentials(project: Any, environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    env = os.environ if environ is None else environ
    token = env.get("UV_PUBLISH_TOKEN")
    if token:
        return "__token__", token
    password = env.get("TWINE_PASSWORD") or env.get("UV_PUBLISH_PASSWORD")
    if password:
        user = (
            env.get("TWINE_USERNAME")
            or env.get("UV_PUBLISH_USERNAME")
            or project.config["build.username"]
            or "__token__"
        )
        return user, password
    return None


def choose_tool(setting: str) -> str:
    if setting in ("uv", "twine"):
        if not shutil.which(setting):
            raise HelpError(
                f"build.publisher is {setting} but {setting} is not on PATH",
                f'pip install {setting}, or set build.publisher = "builtin"',
            )
        return setting
    if setting == "auto":
        for tool in ("uv", "twine"):
            if shutil.which(tool):
                return tool
    return "builtin"


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "****") if secret else text


def upload(project: Any, files: list[Path], url: str) -> dict[str, Any]:
    creds = credentials(project)
    if creds is None:
        raise HelpError(
            "no upload credentials in the environment",
            "set UV_PUBLISH_TOKEN (a PyPI API token), or TWINE_USERNAME and TWINE_PASSWORD",
        )
    tool = choose_tool(project.config["build.publisher"])
    timeout = float(project.config["build.timeout"])
    console.info(f"uploading {len(files)} file(s) to {url} with {tool}")
    user, password = creds
    if tool == "builtin":
        for path in files:
            _post(url, path, user, password, timeout)
    else:
        if tool == "uv":
            cmd = ["uv", "publish", "--publish-url", url, *map(str, files)]
            extra = {"UV_PUBLISH_USERNAME": user, "UV_PUBLISH_PASSWORD": password}
        else:
            cmd = [
                "twine",
                "upload",
                "--non-interactive",
                "--disable-progress-bar",
                "--repository-url",
                url,
                *map(str, files),
            ]
            extra = {"TWINE_USERNAME": user, "TWINE_PASSWORD": password}
        env = {k: v for k, v in os.environ.items() if k not in ("UV_PUBLISH_TOKEN",)}
        result = proc.run(cmd, env=env, extra_env=extra, timeout=timeout)
        if not result.ok:
            tail = _scrub((result.stderr.strip() or result.stdout.strip()), password).splitlines()[-3:]
            raise HelpError(
                f"{tool} could not upload to {url}: {' | '.join(tail)}",
                "check the URL, the credentials and whether this version was uploaded before",
            )
    return {"repository": url, "tool": tool, "files": [p.name for p in files]}


def form_fields(path: Path) -> list[tuple[str, str]]:
    """The legacy upload API's form fields for one artifact, from its own metadata."""
    from email.parser import HeaderParser

    from helper.building.verify import check_sdist, check_wheel

    text = _metadata_text(path)
    headers = HeaderParser().parsestr(text)
    fields: list[tuple[str, str]] = [(":action", "file_upload"), ("protocol_version", "1")]
    for header, value in headers.items():
        lower = header.lower()
        name = _MULTI.get(lower, lower.replace("-", "_"))
        if lower == "description":
            continue
        fields.append((name, value))
    body = headers.get_payload()
    if isinstance(body, str) and body.strip():
        fields.append(("description", body))
    elif headers.get("Description"):
        fields.append(("description", headers["Description"]))
    data = path.read_bytes()
    if path.name.endswith(".whl"):
        check_wheel(path)
        tag = path.name[:-4].split("-")
        fields += [("filetype", "bdist_wheel"), ("pyversion", tag[-3])]
    else:
        check_sdist(path)
        fields += [("filetype", "sdist"), ("pyversion", "source")]
    fields += [
        ("md5_digest", hashlib.md5(data, usedforsecurity=False).hexdigest()),
        ("sha256_digest", hashlib.sha256(data).hexdigest()),
    ]
    return fields


def _metadata_text(path: Path) -> str:
    if path.name.endswith(".whl"):
        import zipfile

        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            return archive.read(name).decode("utf-8")
    import tarfile

    with tarfile.open(path, "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        handle = archive.extractfile(member)
        assert handle is not None
        return handle.read().decode("utf-8")


def multipart(fields: list[tuple[str, str]], path: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + path.read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _post(url: str, path: Path, user: str, password: str, timeout: float) -> None:
    import urllib.error
    import urllib.request

    body, content_type = multipart(form_fields(path), path)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Basic {auth}", "User-Agent": "help.py"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        lines = exc.read().decode("utf-8", "replace").strip().splitlines() if exc.fp else []
        reason = _scrub(lines[-1], password)[:200] if lines else ""
        hints = {401: "the credentials were refused; check TWINE_USERNAME/TWINE_PASSWORD or UV_PUBLISH_TOKEN",
                 403: "this account may not upload to that project", 409: "this file was uploaded before; bump the version"}  # fmt: skip
        raise HelpError(
            f"upload of {path.name} to {url} failed: HTTP {exc.code} {exc.reason}{': ' + reason if reason else ''}",
            hints.get(exc.code, "check the repository URL"),
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = str(getattr(exc, "reason", "") or exc)
        raise HelpError(f"cannot reach {url}: {reason}", "check the URL and the network") from None
    console.verbose(f"uploaded {path.name}")
