"""Check built artifacts: a wheel is a sound zip whose RECORD matches, an sdist has pyproject.toml.

Both must carry the project's name and version in their metadata.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from helper.building.versioning import normalize
from helper.errors import HelpError
from helper.names import canonical


def _fail(path: Path, problem: str) -> HelpError:
    return HelpError(
        f"{path.name} is broken: {problem}", "rebuild with --no-cache; if it persists the build backend is at fault"
    )


def read_metadata(text: str) -> dict[str, str]:
    headers = HeaderParser().parsestr(text)
    return {
        "name": headers.get("Name", ""),
        "version": headers.get("Version", ""),
        "metadata_version": headers.get("Metadata-Version", ""),
    }


def check_wheel(path: Path) -> dict[str, str]:
    """Validate a wheel and return its METADATA name and version."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(path, f"not a valid zip ({exc})") from None
    with archive:
        bad = archive.testzip()
        if bad is not None:
            raise _fail(path, f"{bad} fails its CRC check")
        names = archive.namelist()
        dist_infos = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
        if len(dist_infos) != 1:
            raise _fail(path, f"expected one .dist-info directory, found {sorted(dist_infos) or 'none'}")
        dist_info = dist_infos.pop()
        record_name = f"{dist_info}/RECORD"
        if record_name not in names:
            raise _fail(path, "it has no RECORD")
        record = archive.read(record_name).decode("utf-8")
        listed = set()
        for row in csv.reader(io.StringIO(record)):
            if not row or not row[0]:
                continue
            name, digest = row[0], row[1] if len(row) > 1 else ""
            listed.add(name)
            if name == record_name:
                continue
            if name not in names:
                raise _fail(path, f"RECORD lists {name}, which is not in the wheel")
            if not digest:
                raise _fail(path, f"RECORD has no hash for {name}")
            algo, _, expected = digest.partition("=")
            if algo not in ("sha256", "sha384", "sha512"):
                raise _fail(path, f"RECORD uses hash {algo!r} for {name}")
            actual = base64.urlsafe_b64encode(hashlib.new(algo, archive.read(name)).digest()).rstrip(b"=").decode()
            if actual != expected:
                raise _fail(path, f"the hash of {name} does not match RECORD")
        unlisted = [n for n in names if n not in listed and not n.endswith("/")]
        if unlisted:
            raise _fail(path, f"{unlisted[0]} is not listed in RECORD")
        if f"{dist_info}/METADATA" not in names:
            raise _fail(path, "it has no METADATA")
        meta = read_metadata(archive.read(f"{dist_info}/METADATA").decode("utf-8"))
    file_name, file_version = path.name.split("-")[:2]
    if canonical(file_name) != canonical(meta["name"]) or normalize(file_version) != normalize(meta["version"] or "0"):
        raise _fail(path, f"its file name does not match METADATA ({meta['name']} {meta['version']})")
    return meta


def check_sdist(path: Path) -> dict[str, str]:
    """Validate an sdist (.tar.gz) and return its PKG-INFO name and version."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {m.name: m for m in archive.getmembers()}
            tops = {name.split("/", 1)[0] for name in members}
            if len(tops) != 1:
                raise _fail(path, f"expected one top directory, found {sorted(tops)}")
            top = tops.pop()
            if f"{top}/pyproject.toml" not in members:
                raise _fail(path, "it has no pyproject.toml")
            info = members.get(f"{top}/PKG-INFO")
            if info is None:
                raise _fail(path, "it has no PKG-INFO")
            handle = archive.extractfile(info)
            assert handle is not None
            meta = read_metadata(handle.read().decode("utf-8"))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _fail(path, f"not a valid .tar.gz ({exc})") from None
    return meta


def check(path: Path, name: str | None, version: str | None) -> dict[str, str]:
    """Check one artifact against the project's name and (when static) version."""
    meta = check_wheel(path) if path.name.endswith(".whl") else check_sdist(path)
    if name and canonical(meta["name"]) != canonical(name):
        raise _fail(path, f"its metadata names {meta['name']!r}, the project is {name!r}")
    if version and normalize(meta["version"]) != normalize(version):
        raise _fail(path, f"its metadata says version {meta['version']}, the project says {version}")
    return meta
