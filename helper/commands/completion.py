"""`help.py completion bash|zsh`: a shell completion script made from the command tree (argparse)."""

from __future__ import annotations

import argparse
import importlib
import shlex
from typing import Any

NEEDS_CONFIG = False

EXAMPLES = """examples:
  source <(python help.py completion bash)          this shell
  python help.py completion bash > ~/.local/share/bash-completion/completions/help.py
  python help.py completion zsh > ~/.zfunc/_help.py  (zsh, through bashcompinit)

Completes `help.py`, `./help.py` and `helpy`: commands, their actions and options."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "completion",
        help="print a bash or zsh completion script",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=("bash", "zsh"))
    return parser


def words(parser: argparse.ArgumentParser) -> tuple[list[str], dict[str, argparse.ArgumentParser]]:
    """(what may follow this parser's name: options, actions, choices; its sub-parsers by name)."""
    found: list[str] = []
    children: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append(name)
                children[name] = child
        elif action.option_strings:
            found.extend(o for o in action.option_strings if o.startswith("--") or len(action.option_strings) == 1)
        elif action.choices:
            found.extend(str(c) for c in action.choices)
    return sorted(set(found), key=lambda w: (w.startswith("-"), w)), children


def tree() -> dict[str, list[str]]:
    """'' -> top-level words (key `_` in the script, `_ cmd` and so on), 'cmd' -> that command's, 'cmd action' -> that action's."""
    from helper.cli import GLOBAL_OPTIONS, _all_commands
    from helper.parsing import Parser, add_global_options

    table: dict[str, list[str]] = {}
    commands = _all_commands()
    top = sorted(commands) + [f for flags, _, _ in GLOBAL_OPTIONS for f in flags if f.startswith("--")]
    table[""] = [*top, "--help", "--version"]
    for name, (module_name, _, _) in commands.items():
        holder = Parser(prog="help.py")
        sub = holder.add_subparsers(dest="command", parser_class=Parser)
        try:
            module = importlib.import_module(module_name)
            parser = module.add_parser(sub)
            add_global_options(parser, suppress=True)
        except Exception:  # a broken plugin completes as a bare name
            table[name] = []
            continue
        found, children = words(parser)
        table[name] = found
        for child_name, child in children.items():
            table[f"{name} {child_name}"] = words(child)[0]
    return table


BASH = r"""# bash completion for help.py (made by `help.py completion bash`)
_help_py_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} key=_ i w seen=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        [[ $w == -* ]] && continue
        [[ $w == -- ]] && return 0
        if ((seen < 2)) && [[ -n ${_help_py_words["$key $w"]+x} ]]; then
            key="$key $w"; seen=$((seen + 1))
        fi
    done
    COMPREPLY=($(compgen -W "${_help_py_words[$key]}" -- "$cur"))
}
_help_py_python() {  # `python help.py ...`: complete as help.py once help.py is the first word
    if ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[1]} == *help.py ]]; then
        local COMP_WORDS=("${COMP_WORDS[@]:1}") COMP_CWORD=$((COMP_CWORD - 1))
        _help_py_complete
    else
        COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
    fi
}
complete -F _help_py_complete help.py ./help.py helpy
for _help_py_cmd in python python3; do  # never replaces a completion the shell already has
    complete -p "$_help_py_cmd" >/dev/null 2>&1 || complete -o default -F _help_py_python "$_help_py_cmd"
done
unset _help_py_cmd
"""


def bash_script() -> str:
    lines = ["declare -gA _help_py_words=("]
    for key, found in tree().items():
        lines.append(f"    [{shlex.quote(('_ ' + key).strip())}]={shlex.quote(' '.join(found))}")
    lines.append(")")
    return BASH.replace("_help_py_complete() {", "\n".join(lines) + "\n_help_py_complete() {", 1)


def run(args: argparse.Namespace, project: Any) -> int:
    import sys

    script = bash_script()
    if args.shell == "zsh":
        script = (
            "#compdef help.py helpy\n# zsh completion for help.py, through bash's (bashcompinit)\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + script
        )
    sys.stdout.write(script)
    return 0
