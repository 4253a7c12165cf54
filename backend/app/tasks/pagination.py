"""Paging headers: `X-Total-Count` and an RFC 8288 `Link` that keeps the other parameters."""

import math

from fastapi import Request, Response

from app.tasks.listing import COUNT_CAP
from app.tasks.schemas import TaskQuery


def set_paging_headers(
    response: Response, *, request: Request, query: TaskQuery, total: int, returned: int
) -> None:
    """`total` is the count of matches up to COUNT_CAP + 1 (`list_tasks`), `returned` how many
    are on this page. Past COUNT_CAP the header says COUNT_CAP and `Link` has no `last` (the
    count stopped there); `next` follows every full page."""
    if total > COUNT_CAP:
        pages = {"first": 1}
        if query.page > 1:
            pages["prev"] = query.page - 1
        if returned == query.limit:
            pages["next"] = query.page + 1
        total = COUNT_CAP
    else:
        last = max(1, math.ceil(total / query.limit))
        pages = {"first": 1, "last": last}
        if query.page > 1:
            pages["prev"] = min(query.page - 1, last)
        if query.page < last:
            pages["next"] = query.page + 1
    response.headers["X-Total-Count"] = str(total)
    # Every other parameter is kept as the client sent it; only `page` changes.
    base = str(request.url.remove_query_params("page"))
    separator = "&" if "?" in base else "?"
    response.headers["Link"] = ", ".join(
        f'<{base}{separator}page={page}>; rel="{rel}"' for rel, page in pages.items()
    )
