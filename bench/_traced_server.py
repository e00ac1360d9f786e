"""``openucwa`` with tracemalloc on, for finding where a benchmark's memory goes.

Usage is the CLI's (``python bench/_traced_server.py serve ...``). A daemon thread watches the
working directory for ``snapshot.request``; its content is a path, where the thread dumps a
tracemalloc snapshot and then writes ``<path>.done``. Nothing in ``src/`` is changed: this only
wraps ``openucwa.cli.main``. tracemalloc itself slows the server and roughly doubles its memory, so
its numbers explain RSS deltas but are not themselves the measurement.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path

REQUEST = Path("snapshot.request")


def _watch() -> None:
    while True:
        time.sleep(0.2)
        try:
            target = REQUEST.read_text().strip()
        except OSError:
            continue
        if not target:
            continue
        REQUEST.unlink(missing_ok=True)
        snap = tracemalloc.take_snapshot().filter_traces(
            (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__))
        )
        snap.dump(target)
        Path(target + ".done").write_text("ok")


if __name__ == "__main__":
    tracemalloc.start(4)
    threading.Thread(target=_watch, name="snapshot-watcher", daemon=True).start()
    from openucwa.cli import main

    main()
