"""``start``: real server processes, each on a data directory the test chose, stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .nodes import Node, node_factory


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Node]]:
    """``start(data_dir, *flags, verify=…)`` → a node serving that directory, logging to a file."""
    yield from node_factory(tmp_path)
