"""Errors of the calendar feeds."""

from app.core.errors import AppError


class CalendarFeedNotFound(AppError):
    status_code = 404
    code = "calendar_feed_not_found"
    detail = "Calendar feed not found."


class ListNotFound(AppError):
    """A `list_ids` entry the caller cannot see (API.md, v3 lists: 404 as for an unknown id).
    When the lists domain lands, its own `ListNotFound` replaces this one."""

    status_code = 404
    code = "list_not_found"
    detail = "List not found."
