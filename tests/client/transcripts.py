"""Read the request/response pairs of the reference transcripts (Markdown with elided JSON)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REFERENCE = Path("/work/shared/ucwa/reference")
REQUEST = re.compile(r"^\s*(GET|POST|PUT|DELETE) (\S+) HTTP/1\.1\s*$")
STATUS = re.compile(r"^\s*HTTP/1\.1 (\d{3})")
HEADER = re.compile(r"^\s*([A-Za-z][\w-]*):\s*(.*)$")


@dataclass
class Exchange:
    method: str
    url: str
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    error: str | None = None


def lenient_json(text: str) -> Any:
    """The transcripts elide content with lines of '.', leave trailing commas and stray quotes."""
    lines = [ln for ln in text.splitlines() if ln.strip() not in (".", "…", "...")]
    text = "\n".join(lines)
    text = re.sub(r"\"'", '"', text)
    text = re.sub(r"(?m)^(\s*)([A-Za-z_]\w*)\":", r'\1"\2":', text)  # a lost opening quote
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    text = re.sub(r"([}\]\"])(\s*\n\s*)(\")", r"\1,\2\3", text)  # a comma lost with the elided lines
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return json.loads(text)


def exchanges(name: str) -> list[Exchange]:
    """Every response of a transcript, with the request line that preceded it (when one did)."""
    lines = (REFERENCE / name).read_text(encoding="utf-8").splitlines()
    out: list[Exchange] = []
    pending: tuple[str, str] | None = None
    i = 0

    def boundary(line: str) -> bool:
        return bool(line.strip().startswith("```") or REQUEST.match(line) or STATUS.match(line))

    while i < len(lines):
        if m := REQUEST.match(lines[i]):
            pending = (m.group(1), m.group(2))
            i += 1
            continue
        if not (m := STATUS.match(lines[i])):
            i += 1
            continue
        ex = Exchange(*(pending or ("", "")), status=int(m.group(1)))
        pending = None
        out.append(ex)
        i += 1
        while i < len(lines) and not lines[i].strip().startswith("{") and not boundary(lines[i]):
            if h := HEADER.match(lines[i]):
                ex.headers.append((h.group(1), h.group(2).strip()))
            i += 1
        body: list[str] = []
        while i < len(lines) and not boundary(lines[i]):
            body.append(lines[i])
            i += 1
        raw = "\n".join(body).strip()
        if raw.startswith("{"):
            try:
                ex.body = lenient_json(raw)
            except ValueError as exc:
                ex.error = str(exc)
    return out
