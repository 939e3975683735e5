"""Errors users see: one line of what is wrong, one line of what to do.

Every failure the user can act on is a HelpError; the CLI prints it without a
traceback (unless --debug) and exits with its exit code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class HelpError(Exception):
    """A failure with a message (what is wrong) and a hint (what to do)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None, *, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where  # "file:line" when the problem comes from a file

    def headline(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def to_dict(self) -> dict[str, object]:
        return {
            "error": self.message,
            "hint": self.hint,
            "where": self.where,
            "exit_code": self.exit_code,
        }


class UsageError(HelpError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class ConfigError(HelpError):
    """A configuration file or HELP_* variable is wrong."""

    exit_code = EXIT_USAGE


class MissingDependency(HelpError):
    """An optional module or binary a feature needs is not installed."""

    exit_code = EXIT_FAILED
