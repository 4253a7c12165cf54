"""Errors of the integrations domain."""

from app.core.errors import AppError


class WebhookNotFound(AppError):
    status_code = 404
    code = "webhook_not_found"
    detail = "Webhook not found."


class DeliveryNotFound(AppError):
    status_code = 404
    code = "delivery_not_found"
    detail = "Delivery not found."


class InvalidUrl(AppError):
    status_code = 422
    code = "invalid_url"
    detail = "The URL must be a public https URL without credentials."


class WebhookLimitReached(AppError):
    status_code = 422
    code = "limit_reached"
    detail = "A user has at most 10 webhooks; delete one first."


class WebhookDisabled(AppError):
    status_code = 422
    code = "webhook_disabled"
    detail = "The webhook is disabled; enable it first."
