"""Every shell command in the runbooks, the README and docs/ runs as written against the embedded stack.

The convention (which blocks run, the `<!-- runbook-test: ... -->` markers, the states the test sets up) is
described in runbooks/README.md. One `vhub up --simulate` stack runs for the module, in a temporary data folder.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from rq.registry import FailedJobRegistry

from vhub import portals
from vhub.cli import build_parser
from vhub.context import AppContext
from vhub.runtime import read_state, resolve
from vhub.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RUN = sorted((ROOT / "runbooks").glob("*.md")) + [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
"""Documents whose shell blocks are run (runbooks/README.md is the convention itself and holds none)."""
PARSED = [*RUN, ROOT / "fixtures" / "README.md"]
"""Documents whose `vhub` lines must at least parse, run or not."""
SHELLS = {"sh", "bash", "shell"}
COMMAND_TIMEOUT_S = 300
STATE_TIMEOUT_S = 240

_FENCE = re.compile(
    r"(?:^[ \t]*<!--\s*runbook-test:(?P<marker>[^\n]*?)-->[ \t]*\n(?:[ \t]*\n)?)?"
    r"^[ \t]*(?P<fence>`{3,})(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_PLACEHOLDER = re.compile(r"(?<![${\w-])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*(?![\w=])")
"""An upper-case word left in a command (JOB_ID, NAME): a value the runbook's reader fills in."""
_NOT_PLACEHOLDERS = {"OK", "UK", "CSV", "HTML", "JSON", "URL", "ISR", "MARAC", "DASH", "PPN", "CRA", "UTC"}


@dataclass(frozen=True)
class Command:
    line: int  # the line of the document the command starts on
    text: str


@dataclass(frozen=True)
class Block:
    """One fenced block of a document, with what its marker asks."""

    document: Path
    line: int
    lang: str
    commands: tuple[Command, ...]
    not_run: str | None = None  # the reason
    needs: tuple[str, ...] = ()
    with_values: dict[str, str] = field(default_factory=dict)
    exits: int = 0
    collect_only: bool = False
    problems: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return str(self.document.relative_to(ROOT)) if self.document.is_relative_to(ROOT) else str(self.document)

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in SHELLS and self.not_run is None


def _commands(body: str, first_line: int) -> tuple[Command, ...]:
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    for offset, raw in enumerate(textwrap.dedent(body).splitlines()):
        if not pending:
            start = first_line + offset
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        commands.append(Command(start, " ".join(part.strip() for part in [*pending, raw])))
        pending = []
    return tuple(commands)


def _marker(text: str) -> dict[str, object]:
    """The clauses of one `<!-- runbook-test: ... -->` marker, and any it does not understand."""
    found: dict[str, object] = {"needs": [], "with_values": {}, "problems": []}
    text, not_run, reason = text.partition("not run:")  # the reason, last, may hold any punctuation
    if not_run:
        found["not_run"] = " ".join(reason.split())
        if not found["not_run"]:
            found["problems"].append("`not run:` must say why")  # type: ignore[union-attr]
    for clause in (part.strip() for part in text.split(";")):
        if not clause:
            continue
        if clause.startswith("needs "):
            found["needs"].extend(clause.removeprefix("needs ").split())  # type: ignore[union-attr]
        elif clause.startswith("with ") and "=" in clause:
            word, value = clause.removeprefix("with ").split("=", 1)
            found["with_values"][word.strip()] = value.strip()  # type: ignore[index]
        elif re.fullmatch(r"exits \d+", clause):
            found["exits"] = int(clause.split()[1])
        elif clause == "collect only":
            found["collect_only"] = True
        else:
            found["problems"].append(f"unknown clause {clause!r}")  # type: ignore[union-attr]
    return found


def blocks(document: Path) -> list[Block]:
    """The fenced blocks of ``document``, in order."""
    text = document.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        first_line = text.count("\n", 0, match.start("body")) + 1
        marker = _marker(match["marker"]) if match["marker"] is not None else {}
        found.append(
            Block(
                document,
                first_line - 1,
                match["lang"],
                _commands(match["body"], first_line),
                not_run=marker.get("not_run"),  # type: ignore[arg-type]
                needs=tuple(marker.get("needs", ())),  # type: ignore[arg-type]
                with_values=dict(marker.get("with_values", {})),  # type: ignore[call-overload]
                exits=int(marker.get("exits", 0)),  # type: ignore[call-overload]
                collect_only=bool(marker.get("collect_only")),
                problems=tuple(marker.get("problems", ())),  # type: ignore[arg-type]
            )
        )
    return found


def stray_markers(document: Path) -> list[int]:
    """The lines of markers that are not just above a fenced block (so would mark nothing), outside any block."""
    text = document.read_text(encoding="utf-8")
    taken = [(match.start(), match.end()) for match in _FENCE.finditer(text)]
    return [
        text.count("\n", 0, marker.start()) + 1
        for marker in re.finditer(r"<!--\s*runbook-test:", text)
        if not any(start <= marker.start() < end for start, end in taken)
    ]


def _shell_blocks(documents: list[Path]) -> list[Block]:
    return [block for document in documents for block in blocks(document) if block.lang in SHELLS]


# ------------------------------------------------------------------------------------------- the stack


@dataclass
class RunbookStack:
    """`vhub up --simulate` in a temporary data folder, and the environment a runbook command runs in."""

    data_dir: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def ctx(self) -> AppContext:
        return AppContext(resolve(Settings(data_dir=self.data_dir)))

    def vhub(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "vhub", *args], cwd=ROOT, env=self.env, capture_output=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        return done.stdout.decode()

    def system_url(self, name: str) -> str:
        state = read_state(Settings(data_dir=self.data_dir)) or {}
        return str(state["systems"][name]["url"])

    def wait_quiet(self) -> None:
        jobs = self.ctx.jobs
        deadline = time.monotonic() + STATE_TIMEOUT_S
        quiet = 0
        while quiet < 3:
            if time.monotonic() > deadline:
                pytest.fail(f"the stack's jobs did not finish within {STATE_TIMEOUT_S} s")
            quiet = 0 if jobs.in_flight() else quiet + 1
            time.sleep(0.5)

    def failed_job_ids(self) -> set[str]:
        jobs = self.ctx.jobs
        return {job_id for queue in jobs.queues() for job_id in FailedJobRegistry(queue=queue).get_job_ids()}


def _without_vhub_settings(environ: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in environ.items() if not name.startswith("VHUB_")}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunbookStack]:
    """The stack a runbook's reader has: `vhub up --simulate`, started once for the module."""
    data_dir = tmp_path_factory.mktemp("runbooks") / "var"
    env = _without_vhub_settings(dict(os.environ))
    env.update(
        {
            "VHUB_DATA_DIR": str(data_dir),
            "VHUB_REVIEW_PORT": "0",
            "VHUB_WORKERS": "1",
            "VHUB_FIXTURES_INCIDENTS": "12",
            "VHUB_FIXTURES_ISR_REQUESTS": "2",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    log = (data_dir.parent / "up.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "vhub", "up", "--simulate"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while "Running." not in (data_dir.parent / "up.out").read_text(encoding="utf-8", errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("`vhub up --simulate` did not start:\n" + (data_dir.parent / "up.out").read_text())
        time.sleep(0.2)
    try:
        yield RunbookStack(data_dir, process, env)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as the runbooks say
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


# ------------------------------------------------------------------------------------------- the states


def overnight_run(stack: RunbookStack) -> dict[str, str]:
    """A scan of the records system has run to the end, as after a night. RUN_ID is the run."""
    queued = re.search(r"\(run ([\w-]+)\)", stack.vhub("run", "scan"))
    assert queued, "`vhub run scan` did not name its run"
    stack.wait_quiet()
    return {"RUN_ID": queued[1]}


def failed_job(stack: RunbookStack) -> dict[str, str]:
    """A scan failed for good because the records system's pages changed, and they are back as they were
    (so a replay succeeds). JOB_ID is the failed job."""
    records = stack.system_url("records_system")
    before = stack.failed_job_ids()
    httpx.post(f"{records}/_admin/faults", json={"layout": "variant"}, timeout=10).raise_for_status()
    try:
        stack.vhub("run", "scan")
        deadline = time.monotonic() + STATE_TIMEOUT_S
        while not (new := stack.failed_job_ids() - before):
            if time.monotonic() > deadline:
                pytest.fail("the scan against a changed records system did not fail")
            time.sleep(0.3)
    finally:
        httpx.post(f"{records}/_admin/faults", json={"layout": "standard"}, timeout=10).raise_for_status()
    return {"JOB_ID": sorted(new)[0]}


def paused_portal(stack: RunbookStack) -> dict[str, str]:
    """referral_shropshire is paused as a submission finding a changed page pauses it. NAME is the portal."""
    reason = "The page 'form' of referral_shropshire has changed: locator 'narrative' matched nothing."
    portals.pause(stack.ctx.jobs.connection, "referral_shropshire", reason)
    return {"NAME": "referral_shropshire"}


STATES: dict[str, Callable[[RunbookStack], dict[str, str]]] = {
    "overnight-run": overnight_run,
    "failed-job": failed_job,
    "paused-portal": paused_portal,
}


# ------------------------------------------------------------------------------------------- the tests


def _filled(command: str, values: dict[str, str]) -> str:
    for word, value in values.items():
        command = re.sub(rf"(?<![\w$-]){re.escape(word)}(?![\w-])", value, command)
    return command


def _placeholders(command: str) -> list[str]:
    words = _PLACEHOLDER.findall(re.sub(r"#.*$", "", command))
    return [word for word in words if word not in _NOT_PLACEHOLDERS and len(word) > 2]


def run(block: Block, env: dict[str, str], values: dict[str, str]) -> list[str]:
    """Run each command of ``block`` with ``values`` filled in; what went wrong, by line, with the output."""
    failures = []
    for command in block.commands:
        text = _filled(command.text, values)
        if left := _placeholders(text):
            failures.append(
                f"line {command.line}: `{command.text}` has {', '.join(left)} for the reader to fill in, and the "
                "block's marker gives it no value (`needs STATE` or `with WORD=VALUE`: runbooks/README.md)"
            )
            continue
        if block.collect_only:
            text += " --collect-only -q -p no:cacheprovider"
        done = subprocess.run(
            ["/bin/bash", "-c", text],
            cwd=ROOT,
            env={**env, **{word: value for word, value in values.items() if word.isupper()}},
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        if done.returncode != block.exits:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            failures.append(
                f"line {command.line}: `{text}` exited {done.returncode}, not {block.exits}:\n"
                + textwrap.indent(output[-3000:] or "(no output)", "    ")
            )
    return failures


@pytest.mark.parametrize("document", RUN, ids=lambda document: str(document.relative_to(ROOT)))
def test_every_marker_is_just_above_a_block(document: Path) -> None:
    """A `runbook-test` marker on its own, away from a block, is a mistake: it would mark nothing."""
    assert [] == stray_markers(document), f"{document.relative_to(ROOT)}: markers not just above a fenced block"


def test_the_documents_hold_runnable_commands() -> None:
    """The scan finds shell blocks that run, in the runbooks (an empty scan would prove nothing)."""
    runnable = [block for block in _shell_blocks(RUN) if block.runs and block.document.parent.name == "runbooks"]
    assert len(runnable) >= 8


@pytest.mark.parametrize("block", _shell_blocks(RUN), ids=lambda block: block.name)
def test_each_shell_block_runs(block: Block, request: pytest.FixtureRequest) -> None:
    """Each command of the block exits as the runbook expects (0 unless marked), on a stack in the state the
    block's marker names; a block marked not run says why."""
    assert not block.problems, f"{block.name}: the runbook-test marker has {'; '.join(block.problems)}"
    if block.not_run is not None:
        return  # its `vhub` commands are still checked by test_each_documented_command_parses
    unknown = [state for state in block.needs if state not in STATES]
    assert not unknown, f"{block.name}: no such state {unknown}; the states are {sorted(STATES)}"
    stack: RunbookStack = request.getfixturevalue("stack")
    values = dict(block.with_values)
    for state in block.needs:
        values.update(STATES[state](stack))
    failures = run(block, stack.env, values)
    assert not failures, f"{block.path}:\n" + "\n".join(failures)


def _example(tmp_path: Path, text: str) -> list[Block]:
    document = tmp_path / "example-runbook.md"
    document.write_text(text, encoding="utf-8")
    return blocks(document)


def test_a_failing_command_is_reported_with_its_line_and_output(tmp_path: Path) -> None:
    """A command exiting otherwise than expected is named by its line, with what it printed; an unfilled
    placeholder is named too, and not run."""
    [block] = _example(
        tmp_path,
        "# Example\n\n1. Do it:\n\n   ```sh\n   true\n   echo 'no such portal' >&2; exit 3\n"
        "   vhub failed replay JOB_ID\n   ```\n",
    )
    failures = run(block, dict(os.environ), {})
    assert [
        "line 7: `echo 'no such portal' >&2; exit 3` exited 3, not 0:\n    no such portal",
        "line 8: `vhub failed replay JOB_ID` has JOB_ID for the reader to fill in, and the block's marker gives it "
        "no value (`needs STATE` or `with WORD=VALUE`: runbooks/README.md)",
    ] == failures


def test_markers_set_the_exit_code_the_values_and_what_is_not_run(tmp_path: Path) -> None:
    """`exits N` expects N, `with` and a state's values fill placeholders, `not run:` needs a reason, a clause
    the test does not know is refused, and a marker away from a block is found."""
    found = _example(
        tmp_path,
        "<!-- runbook-test: exits 3; with example_portal=referral_shropshire -->\n```sh\n"
        '[ example_portal = referral_shropshire ] && [ JOB_ID = "$JOB_ID" ] && exit 3\n```\n\n'
        "<!-- runbook-test: not run: starts a service; it runs until stopped -->\n```sh\nvhub up\n```\n\n"
        "<!-- runbook-test: not run: -->\n```sh\nvhub up\n```\n\n"
        "<!-- runbook-test: need failed-job -->\n```bash\nvhub status\n```\n\n"
        "```toml\nnot = 'a command'\n```\n",
    )
    assert [("sh", True), ("sh", False), ("sh", False), ("bash", True), ("toml", False)] == [
        (block.lang, block.runs) for block in found
    ]
    assert [] == run(found[0], dict(os.environ), {**found[0].with_values, "JOB_ID": "42"})
    assert [
        'line 3: `[ example_portal = referral_shropshire ] && [ 42 = "$JOB_ID" ] && exit 3` exited 1, not 3:\n'
        "    (no output)"
    ] == run(found[0], dict(os.environ), {"JOB_ID": "42"})
    assert "starts a service; it runs until stopped" == found[1].not_run
    assert (("`not run:` must say why",), ("unknown clause 'need failed-job'",)) == (
        found[2].problems,
        found[3].problems,
    )
    _example(tmp_path, "<!-- runbook-test: needs failed-job -->\n\nA paragraph between.\n\n```sh\nvhub status\n```\n")
    assert [1] == stray_markers(tmp_path / "example-runbook.md")


COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:\.venv/bin/)?vhub (.+)$")


def commands() -> list[tuple[str, str]]:
    """Each `vhub` line of a shell block, run or not, with the block's file and line."""
    found = []
    for document in PARSED:
        for block in blocks(document):
            if block.lang in SHELLS:
                for command in block.commands:
                    if match := COMMAND.match(command.text):
                        found.append((block.name, match[1].split("#", 1)[0].strip()))
    return found


@pytest.mark.parametrize(("document", "line"), commands())
def test_each_documented_command_parses(document: str, line: str) -> None:
    """The command's words and options are ones `vhub` has (also for the blocks that are not run)."""
    line = re.sub(r"<[^>]*>", "X", line)  # a <label> the reader fills in
    line = re.sub(r"\[[^\]]*\]", "", line.split(">", 1)[0])  # [optional] parts and a shell redirection
    words = [
        "1" if re.fullmatch(r"[A-Z][A-Z_]*", word) else word  # a placeholder (JOB_ID, N) stands for a value
        for word in shlex.split(line)
        if word not in ("...", "|")
    ]
    try:
        build_parser().parse_args(words)
    except SystemExit as error:
        pytest.fail(f"{document}: `vhub {line}` is not a valid command ({error})")
