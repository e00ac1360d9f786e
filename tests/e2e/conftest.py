from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from . import ucwa
from .people import Party, party
from .ucwa import Session, sign_in


@pytest.fixture
def fuzz_session(server) -> Session:
    return sign_in(server.base, "sarad@contoso.com", "sara-secret", f"fuzz-{uuid.uuid4()}")


@pytest.fixture
def parties(server) -> Iterator[Callable[..., Party]]:
    """Signs people in; their applications are deleted afterwards so later tests start clean."""
    made: list[Party] = []

    def make(user: str, pw: str, available: bool = True) -> Party:
        p = party(server, user, pw, available)
        made.append(p)
        return p

    yield make
    for p in made:
        p.s.delete(p.a)


@pytest.fixture
def tosh(parties) -> Party:
    return parties("toshm@contoso.com", "tosh-secret")


@pytest.fixture
def lene(parties) -> Party:
    return parties("lenea@contoso.com", "lene-secret")


@pytest.fixture(autouse=True)
def delete_created_applications(server) -> Iterator[None]:
    """Runs last: deletes through the shared node, which sees every node's applications."""
    yield
    while ucwa.CREATED:
        s = ucwa.CREATED.pop()
        try:
            httpx.delete(server.base + s.self_href, headers=s.headers, timeout=10)
        except httpx.HTTPError:
            pass
