"""agent: local-model coding agents that change code only through tests and the sandbox."""

from helper.config_schema import Setting
from helper.plugins import Plugin

PLUGIN = Plugin(
    name="agent",
    description="local-model coding agents: plan, patch, review and test a change in a git worktree",
    commands={"agent": ("plugins.agent.command", "let local-model agents make a change in a worktree")},
    binaries=(("git",),),
    install_hint="sudo apt-get install git   (and run a model server: ollama serve, llama.cpp, vLLM, ...)",
    settings={
        "server": Setting("str", "http://127.0.0.1:11434", "model server URL (Ollama or OpenAI-compatible)"),
        "api": Setting("choice", "auto", "the server's protocol", choices=("auto", "ollama", "openai")),
        "client": Setting(
            "choice",
            "auto",
            "who speaks the Ollama API: the ollama package when installed (auto), always it (ollama), or the stdlib",
            choices=("auto", "ollama", "stdlib"),
        ),
        "model": Setting("str", None, "model to use (default: chosen per task from the installed ones)"),
        "fallback": Setting("list", [], "smaller models tried in order when the server is out of memory or slow"),
        "timeout": Setting("float", 120.0, "seconds without a byte from the server before a call is given up"),
        "attempts": Setting("int", 3, "tries of one model call (with backoff) before the step fails"),
        "parallel": Setting("int", 2, "independent sub-tasks worked on at once"),
        "test_command": Setting("list", [], "test command run in the sandbox (default: python help.py test)"),
        "max_rounds": Setting("int", 2, "review rounds before a sub-task fails"),
        "review_command": Setting(
            "list", [], "the reviewer's static checks run in the sandbox (default: help.py test --quality)"
        ),
        "context_ttl": Setting("float", 3600.0, "seconds a project context is reused while no project file changes"),
        "bandit": Setting(
            "choice",
            "thompson",
            "how each role's prompt variant is chosen from past scores",
            choices=("thompson", "ucb1", "off"),
        ),
        "bandit_seed": Setting("int", None, "the bandit's random seed (unset: a fresh one each run)"),
        "redis": Setting("str", None, "Redis URL holding the task queue and workers' state (default: SQLite alone)"),
        "lease": Setting("float", 30.0, "seconds a worker's claim on a task lasts without a heartbeat"),
        "archive_days": Setting("float", 7.0, "days after which finished tasks move to .help/agent/archive/"),
        "housekeeping": Setting("float", 60.0, "seconds between a worker's archive passes"),
        "log_max_bytes": Setting("int", 1_000_000, "size at which .help/logs/agent.log is rotated (3 kept)"),
    },
    checks="plugins.agent.health:checks",
)
