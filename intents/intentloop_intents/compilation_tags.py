"""Which tag each port of a service carries: the customer's at an endpoint, the link's in
the core, else the service-wide VLAN (see `compilation`)."""

from __future__ import annotations

from typing import Protocol

from intentloop_intents.paths import Hop


class Endpoint(Protocol):
    @property
    def device(self) -> str: ...
    @property
    def interface(self) -> str: ...
    @property
    def vlan(self) -> int | None: ...


class Tags:
    """Which tag a port carries: its own (endpoint, link), else the service-wide one."""

    def __init__(self, default: int | None, link_tags: dict[str, int]) -> None:
        self.default = default
        self.link_tags = link_tags

    def of_link(self, link: str | None) -> int:
        tag = self.link_tags.get(link, self.default) if link is not None else self.default
        if tag is None:
            raise ValueError(f"link {link}: no tag given for it and no service VLAN")
        return tag

    def of_end(self, end: Endpoint) -> int:
        tag = end.vlan if end.vlan is not None else self.default
        if tag is None:
            raise ValueError(f"endpoint {end.device} {end.interface}: no VLAN")
        return tag


def around(hops: tuple[Hop, ...], links: tuple[str, ...]) -> list[tuple[str | None, str | None]]:
    """For each hop the link it enters by and the link it leaves by (None: not named)."""
    if not links:
        return [(None, None)] * len(hops)
    if len(links) != len(hops) - 1:
        raise ValueError(f"{len(hops)} hops need {len(hops) - 1} links, got {len(links)}")
    padded: list[str | None] = [None, *links, None]
    return [(padded[i], padded[i + 1]) for i in range(len(hops))]


def check_tags(
    endpoints: tuple[Endpoint, ...],
    routes: tuple[tuple[tuple[Hop, ...], tuple[str, ...]], ...],
    default: int | None,
    link_tags: dict[str, int],
) -> None:
    """Every port the service uses has a tag; ValueError naming the first that has none."""
    tags = Tags(default, link_tags)
    for end in endpoints:
        tags.of_end(end)
    for hops, links in routes:
        for hop, (before, after) in zip(hops, around(hops, links), strict=True):
            if hop.in_interface is not None:
                tags.of_link(before)
            if hop.out_interface is not None:
                tags.of_link(after)
