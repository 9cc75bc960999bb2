"""Every `vhub` command in the runbooks and the README is a command the CLI accepts, as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from vhub.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted((ROOT / "runbooks").glob("*.md")) + [ROOT / "README.md", ROOT / "fixtures" / "README.md"]
COMMAND = re.compile(r"^\s*(?:[A-Z_]+=\S+\s+)*(?:\.venv/bin/)?vhub (.+)$", re.MULTILINE)


def commands() -> list[tuple[str, str]]:
    found = []
    for document in DOCUMENTS:
        for block in re.findall(r"```(?:sh|bash)?\n(.*?)```", document.read_text(encoding="utf-8"), re.DOTALL):
            for line in COMMAND.findall(block):
                found.append((document.name, line.split("#", 1)[0].strip().rstrip("\\").strip()))
    return found


def test_the_documents_show_commands() -> None:
    """The runbooks do contain commands (an empty scan would prove nothing)."""
    assert len(commands()) >= 8


@pytest.mark.parametrize(("document", "line"), commands())
def test_each_documented_command_parses(document: str, line: str) -> None:
    """The command's words and options are ones `vhub` has."""
    line = re.sub(r"\[[^\]]*\]", "", line.split(">", 1)[0])  # [optional] parts and a shell redirection
    words = [word for word in shlex.split(line) if not re.fullmatch(r"[A-Z_]+(_ID)?|\.\.\.|\|", word)]
    try:
        build_parser().parse_args(words)
    except SystemExit as error:
        pytest.fail(f"{document}: `vhub {line}` is not a valid command ({error})")
