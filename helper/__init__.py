"""help.py core: the standard-library-only machinery every command stands on."""

__version__ = "0.1.0"
