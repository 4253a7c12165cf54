"""Errors of the tasks domain."""

from app.core.errors import AppError


class TaskNotFound(AppError):
    status_code = 404
    code = "task_not_found"
    detail = "Task not found."
