"""Every curl example in README.md runs as written against a real server on a fresh database.

The `sh` blocks that call `curl` or `python -m app` are run in order, in one bash session (so
variables such as `$SCREENING_ID` carry over, as they would in a reader's terminal), against
`uvicorn` on a free port with a fresh SQLite file. Only `127.0.0.1:8000` is replaced by that port;
`TOKEN` comes from the README's own `python -m app token` block. `curl` is wrapped to report each
HTTP status on a side channel.

A block passes when it exits 0, every status is 2xx (except that a block annotated
`# -> 409 Conflict` expects its last request to answer 409), and it prints what it says: each
`#=> text` line must equal a line of the block's output, where `...` stands for any run of
characters (ids, times). Every block checks something beyond its exit code: an expected status,
or at least one `#=>` line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from app.settings import PROJECT_ROOT
from tests.conftest import create_database, make_settings, migrate
from tests.hardening.server import Server

pytestmark = pytest.mark.slow

README = PROJECT_ROOT / "README.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
EXPECT = re.compile(r"#\s*->\s*(\d{3})\b")
OUTPUT = re.compile(r"^\s*#=> ?(.*)$", re.M)
RUNNABLE = re.compile(r"\bcurl\b|python -m app (token|create-client)")


def readme_blocks() -> list[str]:
    """The runnable `sh` blocks of README.md, in order."""
    return [b for b in BLOCK.findall(README.read_text(encoding="utf-8")) if RUNNABLE.search(b)]


def test_readme_has_runnable_examples():
    blocks = readme_blocks()
    assert len(blocks) >= 10
    text = README.read_text(encoding="utf-8")
    assert text.index("make run") < text.index("make test") < text.index("curl ")
    assert re.search(r"create-client", text) and "printed" in text


def _matches(expected: str, line: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.strip().split("..."))
    return re.fullmatch(pattern, line.strip()) is not None


def missing_output(block: str, output: str) -> list[str]:
    """The block's `#=>` lines that no line of its output matches."""
    lines = output.splitlines()
    return [want for want in OUTPUT.findall(block) if not any(_matches(want, line) for line in lines)]


def test_every_example_checks_more_than_its_exit_code():
    unchecked = [b.strip().splitlines()[0] for b in readme_blocks() if not (EXPECT.search(b) or OUTPUT.search(b))]
    assert unchecked == [], f"blocks with neither `# -> status` nor `#=> output`: {unchecked}"


def test_output_lines_are_matched_with_wildcards():
    block = 'curl ... | jq -c .\n#=> {"id": "...", "verdict": "block"}\n'
    assert missing_output(block, 'noise\n{"id": "3f2a", "verdict": "block"}\n') == []
    assert missing_output(block, '{"id": "3f2a", "verdict": "allow"}\n') == ['{"id": "...", "verdict": "block"}']
    assert missing_output(block, "") != []


def test_readme_tells_how_to_install_jq():
    text = README.read_text(encoding="utf-8")
    assert "apt-get install" in text and "jq" in text


def test_readme_shows_every_operation():
    from app.openapi_doc import build_spec

    text = README.read_text(encoding="utf-8")
    spec = build_spec()
    missing = [
        op["operationId"] for item in spec["paths"].values() for op in item.values() if op["operationId"] not in text
    ]
    assert missing == [], f"operations without a README example (name the operationId next to it): {missing}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.skip("the README examples need curl and jq")
    tmp = tmp_path_factory.mktemp("readme")
    db = create_database("sqlite", str(tmp))
    migrate(make_settings(db.url))
    with Server(db.url, tmp / "server.log") as running:
        yield running, tmp
    db.drop()


def _script(blocks: list[str], port: int, status_dir: str) -> str:
    lines = [
        "set -u",
        # Each curl reports its status on stderr (the block's stderr goes to a file); stdout is untouched.
        "curl() { command curl -w '%{stderr}__STATUS__%{http_code}\\n' \"$@\"; }",
    ]
    for i, block in enumerate(blocks):
        body = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        # The marker starts a line even when the previous block's output did not end with one.
        lines += [
            f"printf '\\n__BLOCK__{i}\\n'",
            "{",
            body,
            f"}} 2> {status_dir}/{i}.err",
            f'echo "__RC__$?" >> {status_dir}/{i}.err',
        ]
    return "\n".join(lines) + "\n"


def test_readme_examples_run_as_written(server):
    running, tmp = server
    blocks = readme_blocks()
    script = _script(blocks, running.port, str(tmp))
    env = running.env()
    env["PATH"] = f"{PROJECT_ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["bash", "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    outputs = re.split(r"^__BLOCK__\d+\n", result.stdout, flags=re.M)[1:]
    failures = []
    for i, block in enumerate(blocks):
        err_path = tmp / f"{i}.err"
        err = err_path.read_text() if err_path.exists() else ""
        statuses = [int(s) for s in re.findall(r"__STATUS__(\d{3})", err)]
        rc = re.findall(r"__RC__(\d+)", err)
        expect = EXPECT.search(block)
        ok = rc == ["0"] and (bool(statuses) or "curl" not in block)
        if expect:
            ok = ok and statuses[-1] == int(expect.group(1)) and all(200 <= s < 300 for s in statuses[:-1])
        else:
            ok = ok and all(200 <= s < 300 for s in statuses)
        output = outputs[i] if i < len(outputs) else ""
        unmatched = missing_output(block, output)
        if not ok or unmatched:
            first = block.strip().splitlines()[0]
            stderr = re.sub(r"__(STATUS|RC)__\d+\n?", "", err)
            failures.append(
                f"block {i} ({first[:80]}): exit {rc}, statuses {statuses}, expected "
                f"{expect.group(1) if expect else '2xx'}, output lines not printed {unmatched}\n"
                f"  stdout: {output[-600:]!r}\n  stderr: {stderr[-400:]!r}"
            )
    assert not failures, "README examples that do not run as written:\n" + "\n".join(failures)
