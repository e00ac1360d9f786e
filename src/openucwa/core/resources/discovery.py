"""root and user resources (SPEC §5.1, §5.2): absolute hrefs on the caller's base URL."""

from __future__ import annotations

from ..hal import Json, link, resource
from ..links import Discovery


def root(d: Discovery, query: str = "") -> Json:
    return resource(
        "root",
        d.root(query),
        links={"user": link(d.user(query)), "xframe": link(d.xframe())},
    )


def user(d: Discovery, self_href: str) -> Json:
    return resource(
        "user",
        self_href,
        links={"applications": link(d.applications()), "xframe": link(d.xframe())},
    )
