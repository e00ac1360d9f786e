"""Generates the blocking SDK client from the asyncio one, as httpcore's scripts/unasync does.

    python scripts/unasync.py          # rewrite src/openucwa/client/sync_client.py
    python scripts/unasync.py --check  # exit 1 when it differs from what would be generated

The rules are whole-token substitutions; the result is formatted with ruff so that it reads like
any other module. ``make test`` runs the check, so the two clients cannot drift.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src/openucwa/client/async_client.py"
TARGET = ROOT / "src/openucwa/client/sync_client.py"
HEADER = "# Generated from async_client.py by scripts/unasync.py: edit that file, then run `make unasync`.\n"

RULES = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\bawait ", ""),
    (r"\bAsyncSession\b", "Session"),
    (r"\bAsyncIterator\b", "Iterator"),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\b_async_io\b", "_sync_io"),
    (r"\.aclose\(\)", ".close()"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"the asyncio SDK", "the blocking SDK"),
]
# The paragraph telling readers to edit the async file is only true of the async file.
DROP = re.compile(r"\nThe blocking ``Session`` \(``sync_client.py``\).*?``make unasync``\.\n", re.S)


def generate() -> str:
    text = DROP.sub("", SOURCE.read_text(encoding="utf-8"))
    for pattern, repl in RULES:
        text = re.sub(pattern, repl, text)
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return HEADER + formatted


def main(argv: list[str]) -> int:
    wanted = generate()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != wanted:
            diff = difflib.unified_diff(
                current.splitlines(True), wanted.splitlines(True), str(TARGET), "generated"
            )
            sys.stderr.write("".join(diff))
            sys.stderr.write(f"{TARGET.relative_to(ROOT)} drifted from async_client.py: run `make unasync`\n")
            return 1
        return 0
    TARGET.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
