"""Start-up time of help.py against bare Python and the tools people use today.

    python bench/startup.py [--runs 20] [--no-install]

Runs `help.py --help` and `--version`, `python -c pass`, `hatch --version`,
`nox --version` and `poetry --version` side by side and prints ratios.
Target: `help.py --help` within 1.3x of `python -c pass`.
"""

from __future__ import annotations

import argparse
import sys

from _peers import ROOT, clean_python, compile_sources, find, install_peers, report, time_command

PEERS = ("hatch", "nox", "poetry")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-install", action="store_true", help="use peers already on PATH only")
    args = parser.parse_args()
    if not args.no_install:
        install_peers(PEERS)
    compile_sources()
    python = clean_python()  # a plain interpreter, as the peers' venvs are (no pyenv shim, no .pth hooks)
    help_py = str(ROOT / "help.py")
    commands: list[tuple[str, list[str] | None]] = [
        ("python -c pass", [python, "-c", "pass"]),
        ("help.py --help", [python, help_py, "--help"]),
        ("help.py --version", [python, help_py, "--version"]),
        # Without site: this machine's site-packages .pth files can dwarf both.
        ("python -S -c pass", [python, "-S", "-c", "pass"]),
        ("python -S help.py --help", [python, "-S", help_py, "--help"]),
    ]
    for peer in PEERS:
        binary = find(peer)
        commands.append((f"{peer} --version", [binary, "--version"] if binary else None))
    rows = [(name, time_command(argv, args.runs, cwd=ROOT) if argv else None) for name, argv in commands]
    medians = report(rows, "python -c pass")
    ratio = medians["help.py --help"] / medians["python -c pass"]
    verdict = "met" if ratio <= 1.3 else "MISSED"
    print(f"\ntarget help.py --help <= 1.3x python -c pass: {ratio:.2f}x ({verdict})")
    bare = medians["python -S help.py --help"] / medians["python -S -c pass"]
    print(f"without site: help.py --help is {bare:.2f}x python -S -c pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
