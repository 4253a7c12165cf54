"""Conditional requests on one task (RFC 9110): the ETag is the task's version, quoted."""

import re

from app.tasks.errors import etag

__all__ = ["etag", "if_match_versions", "none_match"]

# One entity tag of a list: optionally weak (W/), then a quoted opaque string.
_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


def _entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """(weak, opaque) pairs of a comma-separated list; None for `*` or a malformed header."""
    if header.strip() == "*":
        return None
    tags, position = [], 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None or match.end() == position:
            return []  # malformed: matches nothing
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def if_match_versions(header: str | None) -> frozenset[int] | None:
    """The versions an If-Match accepts: None when any existing task will do (no header, or
    `*`). Strong comparison: a weak or foreign tag matches nothing."""
    if header is None:
        return None
    tags = _entity_tags(header)
    if tags is None:
        return None
    return frozenset(
        int(opaque) for weak, opaque in tags if not weak and opaque.isascii() and opaque.isdigit()
    )


def none_match(header: str | None, version: int) -> bool:
    """Whether If-None-Match matches the task's current version (weak comparison): the
    client's copy is current, answer 304."""
    if header is None:
        return False
    tags = _entity_tags(header)
    return tags is None or any(opaque == str(version) for _, opaque in tags)
