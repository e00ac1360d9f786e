"""``openucwa serve`` gives the memory of each password check back (cli.serve.unmap_large_blocks).

Each case runs in a process of its own: malloc's thresholds are process-wide and cannot be undone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_CHECKS = """
import sys, threading
from openucwa.actions.users import hash_password
from openucwa.cli.serve import unmap_large_blocks

def rss():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

if sys.argv[1] == "unmapped":
    assert unmap_large_blocks()
hash_password("warm")  # imports and the first mapping out of the way
before = rss()
def checks():
    for _ in range(3):
        hash_password("secret")  # argon2: 19 MiB each, as a sign-in's check
threads = [threading.Thread(target=checks) for _ in range(2)]  # two checks at once, as a server
for t in threads:
    t.start()
for t in threads:
    t.join()
print(rss() - before)
"""

MIB = 1 << 20


def _growth(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHECKS, mode], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_password_checks_leave_no_arena_behind() -> None:
    kept = _growth("default")
    if kept < 19 * MIB:  # not glibc's dynamic threshold: nothing to give back here
        pytest.skip(f"this allocator kept {kept / MIB:.1f} MiB without the setting")
    assert _growth("unmapped") < 8 * MIB
