"""Directory sync of a large directory: wall time and memory for N people, to show memory does not
grow with N.

For each size, writes an LDIF on the fly (N AD-like people, one in ten with a photo, and N/20
groups of 20 people, every tenth group also containing the nine after it), loads it offline with
slapadd into a throwaway slapd (tests/directory/slapd.py), then runs ``actions.directory.sync``
into a fresh SQLite database in a child process, three passes:

1. the first import (everyone added) — wall time and the child's peak RSS (``ru_maxrss``);
2. a pass with nothing changed, under ``tracemalloc`` — peak of Python allocations during the pass;
3. after 10% of the people were deleted from the directory (offline, in the LDIF) — the leavers'
   pass, under ``tracemalloc`` too.

    .venv/bin/python bench/directory_sync.py                        # 10,000 and 100,000
    .venv/bin/python bench/directory_sync.py --sizes 1000,10000 --page-size 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.directory.slapd: the same throwaway slapd the tests use

from tests.directory import slapd as sl  # noqa: E402

GROUP_SIZE = 20  # so that 10,000 people already fill a page of 500 groups, as 100,000 do


def ldif(n: int, leavers: set[int]) -> Iterator[str]:
    for dn, attrs in sl.seed_entries()[:5]:  # suffix, the OUs and the service account
        yield sl.to_ldif(dn, attrs)
    for i in range(n):
        if i in leavers:
            continue
        uid = f"user{i:06d}"
        dn, attrs = sl.person(
            uid,
            f"Person {i:06d}",
            "pw",
            sip=f"sip:{uid}@contoso.com",
            mail=f"{uid}@contoso.com",
            upn=f"{uid}@contoso.com",
            title="Engineer",
            department=f"Dept {i % 50}",
            phone=f"+1 425 555 {i % 10000:04d}",
            photo=sl.PHOTO if i % 10 == 0 else None,
        )
        attrs.pop("userPassword")  # not needed to sync, and it costs slapadd a hash per entry
        yield sl.to_ldif(dn, attrs)
    for g in range(max(1, n // GROUP_SIZE)):
        members = [
            f"cn=user{i:06d},{sl.PEOPLE}"
            for i in range(g * GROUP_SIZE, min(n, (g + 1) * GROUP_SIZE))
            if i not in leavers
        ]
        if g % 10 == 0:
            members += [f"cn=Group {h:05d},{sl.GROUPS}" for h in range(g + 1, min(g + 10, n // GROUP_SIZE))]
        attrs: dict[str, object] = {
            "objectClass": ["group"],
            "cn": f"Group {g:05d}",
            "mail": f"group{g:05d}@contoso.com",
            "member": members or [sl.SERVICE_DN],
        }
        yield sl.to_ldif(f"cn=Group {g:05d},{sl.GROUPS}", attrs)


def slapd_with(root: Path, n: int, leavers: set[int]) -> sl.Slapd:
    server = sl.Slapd(root)
    server.setup(ldif(n, leavers), max_size=4 * 2**30)
    server.start()
    return server


# the child: one sync pass, measured ----------------------------------------------------------
def child(args: argparse.Namespace) -> None:
    from openucwa.actions import directory as actions
    from openucwa.cli import services
    from openucwa.config import from_env
    from openucwa.directory.client import Directory, DirectoryConfig

    env = {
        "OPENUCWA_LDAP_URL": args.url,
        "OPENUCWA_LDAP_BIND_DN": sl.SERVICE_DN,
        "OPENUCWA_LDAP_BIND_PASSWORD": sl.SERVICE_PW,
        "OPENUCWA_LDAP_USER_BASE": sl.PEOPLE,
        "OPENUCWA_LDAP_GROUP_BASE": sl.GROUPS,
        "OPENUCWA_LDAP_PAGE_SIZE": str(args.page_size),
        "OPENUCWA_LDAP_TIMEOUT": "30",
    }
    settings = from_env(env=env, data_dir=args.data_dir)
    config = DirectoryConfig.from_settings(settings)
    assert config is not None

    async def go() -> Any:
        async with services(args.data_dir, None) as svc:
            return await actions.sync(svc, Directory(config))

    if args.trace:
        tracemalloc.start()
    started = time.perf_counter()
    report = asyncio.run(go())
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if args.trace else None
    print(
        json.dumps(
            {
                "seconds": seconds,
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "traced_peak_mb": None if peak is None else peak / 2**20,
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "disabled": report.disabled,
                "groups": report.groups,
            }
        )
    )


def run_pass(url: str, data_dir: str, page_size: int, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--url", url, "--data-dir", data_dir]
    cmd += ["--page-size", str(page_size)] + (["--trace"] if trace else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench(n: int, page_size: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="openucwa-dirbench-") as tmp:
        data_dir = str(Path(tmp) / "data")
        started = time.perf_counter()
        server = slapd_with(Path(tmp) / "slapd", n, set())
        load = time.perf_counter() - started
        try:
            first = run_pass(server.url, data_dir, page_size, trace=False)
            rows.append({"n": n, "pass": "first import", "slapadd_s": load, **first})
            same = run_pass(server.url, data_dir, page_size, trace=True)
            rows.append({"n": n, "pass": "nothing changed (traced)", **same})
        finally:
            server.cleanup()
        leavers = set(range(0, n, 10))  # one in ten left
        server = slapd_with(Path(tmp) / "slapd2", n, leavers)
        try:
            gone = run_pass(server.url, data_dir, page_size, trace=True)
            rows.append({"n": n, "pass": "10% left (traced)", **gone})
        finally:
            server.cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if reason := sl.unavailable():
        sys.exit(reason)
    print(f"page size {args.page_size}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    header = (
        "| people | pass | wall | peak RSS | traced peak | added / updated / unchanged / disabled | groups |"
    )
    print(header + "\n| --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(s) for s in args.sizes.split(",")):
        for r in bench(n, args.page_size):
            traced = "-" if r["traced_peak_mb"] is None else f"{r['traced_peak_mb']:.1f} MB"
            counts = f"{r['added']} / {r['updated']} / {r['unchanged']} / {r['disabled']}"
            print(
                f"| {n:,} | {r['pass']} | {r['seconds']:.1f} s | {r['maxrss_mb']:.0f} MB | {traced} "
                f"| {counts} | {r['groups']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
