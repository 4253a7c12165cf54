"""Errors of the calendar feeds."""

from app.core.errors import AppError


class CalendarFeedNotFound(AppError):
    status_code = 404
    code = "calendar_feed_not_found"
    detail = "Calendar feed not found."
