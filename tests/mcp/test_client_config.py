"""`help.py mcp config --client NAME`: merged into the client's JSON, never clobbering, backed up, usable."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import clean_env, run_help


def test_cursor_config_is_merged_backed_up_and_starts_the_server(sample: Path) -> None:
    path = sample / ".cursor" / "mcp.json"
    path.parent.mkdir()
    original = '{"mcpServers": {"other": {"command": "other-server"}}, "theme": "dark"}\n'
    path.write_text(original)
    shown = run_help("mcp", "config", "--client", "cursor", cwd=sample)
    assert shown.returncode == 0 and '"help.py"' in shown.stdout
    assert path.read_text() == original  # printing writes nothing
    done = run_help("--json", "mcp", "config", "--client", "cursor", "--write", cwd=sample)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["state"] == "added" and report["written"] is True
    data = json.loads(path.read_text())
    assert data["theme"] == "dark" and data["mcpServers"]["other"] == {"command": "other-server"}
    assert Path(report["backup"]).read_text() == original
    again = json.loads(run_help("--json", "mcp", "config", "--client", "cursor", "--write", cwd=sample).stdout)
    assert again["state"] == "unchanged" and again["written"] is False
    # the entry really starts a working server
    server = data["mcpServers"]["help.py"]
    hello = {"jsonrpc": "2.0", "id": 1, "method": "server/discover"}
    hello["params"] = {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}
    answer = subprocess.run(
        [server["command"], *server["args"]],
        input=json.dumps(hello) + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd="/",
        timeout=60,
    )
    assert json.loads(answer.stdout.splitlines()[0])["result"]["supportedVersions"][0] == "2026-07-28"


def test_vscode_and_claude_desktop_shapes(sample: Path, tmp_path: Path) -> None:
    assert run_help("mcp", "config", "--client", "vscode", "--write", cwd=sample).returncode == 0
    vscode = json.loads((sample / ".vscode" / "mcp.json").read_text())
    assert vscode["servers"]["help.py"]["type"] == "stdio"
    home = tmp_path / "xdg"
    done = run_help(
        "mcp", "config", "--client", "claude-desktop", "--write", cwd=sample, env={"XDG_CONFIG_HOME": str(home)}
    )
    assert done.returncode == 0, done.stderr
    claude = json.loads((home / "Claude" / "claude_desktop_config.json").read_text())
    assert claude["mcpServers"]["help.py"]["args"][-1] == "mcp"


def test_invalid_json_is_left_alone(sample: Path) -> None:
    path = sample / "broken.json"
    path.write_text('{"mcpServers": {,}\n')
    done = run_help("mcp", "config", "--client", "cursor", "--path", str(path), "--write", cwd=sample)
    assert done.returncode == 2 and "broken.json:1" in done.stderr
    assert path.read_text() == '{"mcpServers": {,}\n' and not path.with_name("broken.json.bak").exists()
