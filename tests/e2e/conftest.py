from __future__ import annotations

import uuid

import pytest

from .ucwa import Session, sign_in


@pytest.fixture
def fuzz_session(server) -> Session:
    return sign_in(server.base, "sarad@contoso.com", "sara-secret", f"fuzz-{uuid.uuid4()}")
