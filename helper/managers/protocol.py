"""The package-manager protocol, for type checkers: what every module in helper/managers/ offers.

Start paths import this only under TYPE_CHECKING; helper.managers.base.Manager
is the shared implementation every manager class derives from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from helper.managers.base import Runner, Target
    from helper.managers.envcheck import Requirement


class PackageManager(Protocol):
    """One tool: its files, where its environment lives, how it checks its lock and syncs."""

    name: ClassVar[str]
    tool: ClassVar[str | None]  # the binary it needs, if any
    lock_file: ClassVar[str | None]  # its lock, relative to the project root
    lock_check: ClassVar[tuple[str, ...]]  # arguments after the tool that check the lock against the manifest
    sync_command: ClassVar[str]  # what a person runs to sync (shown as a fix)

    def manifest_files(self) -> list[Path]: ...
    def env_dir(self) -> Path: ...
    def python(self) -> Path: ...
    def installed(self) -> dict[str, str]: ...
    def sync(self, runner: Runner) -> None: ...
    def add(self, runner: Runner, requirements: list[Requirement], target: Target) -> None: ...
    def remove(self, runner: Runner, names: list[str], target: Target) -> None: ...
    def upgrade(self, runner: Runner, names: list[str]) -> None: ...
    def lock(self, runner: Runner) -> None: ...
