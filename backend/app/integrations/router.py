"""/api/webhooks: the signed-in user's webhook endpoints, their delivery log, tests and
redeliveries."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from app.accounts.dependencies import CurrentUser
from app.accounts.errors import AUTH_ERRORS
from app.core.database import ConnectionDep
from app.core.errors import BODY_ERRORS, AppError, DatabaseUnavailable, responses
from app.integrations import webhooks
from app.integrations.errors import (
    DeliveryNotFound,
    InvalidUrl,
    WebhookDisabled,
    WebhookLimitReached,
    WebhookNotFound,
)
from app.integrations.guard import Guard
from app.integrations.schemas import (
    Accepted,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPatch,
    WebhookPublic,
    WebhookSecret,
)


def _responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """`responses(...)`, where a 422 may be ours (`{detail, code}`) or FastAPI's validation
    error (`{detail: [...]}`): the schema says either, with an example of ours."""
    declared = responses(*errors)
    if 422 in declared:
        ours = [error for error in errors if error.status_code == 422]
        entry = declared[422]
        entry.pop("model", None)
        entry["description"] += "; or a validation error (FastAPI's shape)"
        entry["content"] = {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/ErrorBody"},
                        {"$ref": "#/components/schemas/HTTPValidationError"},
                    ]
                },
                "example": {"detail": ours[0].detail, "code": ours[0].code},
            }
        }
    return declared


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.webhook_guard
    return guard


GuardDep = Annotated[Guard, Depends(_guard)]

router = APIRouter(
    prefix="/api/webhooks",
    tags=["webhooks"],
    responses=responses(*AUTH_ERRORS, DatabaseUnavailable),
)

ONE = "/{webhook_id}"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=_responses(InvalidUrl, WebhookLimitReached, *BODY_ERRORS),
)
async def create_webhook(
    data: WebhookCreate, user: CurrentUser, connection: ConnectionDep, guard: GuardDep
) -> WebhookCreated:
    """Register an endpoint (at most 10 per user). The answer holds its signing secret, shown
    this once."""
    webhook = await webhooks.create_webhook(
        connection=connection, guard=guard, user_id=user.id, data=data
    )
    return WebhookCreated.model_validate(webhook)


@router.get("")
async def list_webhooks(user: CurrentUser, connection: ConnectionDep) -> list[WebhookPublic]:
    """The user's endpoints, oldest first."""
    found = await webhooks.list_webhooks(connection=connection, user_id=user.id)
    return [WebhookPublic.model_validate(webhook) for webhook in found]


@router.get(ONE, responses=responses(WebhookNotFound))
async def get_webhook(
    webhook_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep
) -> WebhookPublic:
    """One endpoint."""
    webhook = await webhooks.get_webhook(
        connection=connection, user_id=user.id, webhook_id=webhook_id
    )
    return WebhookPublic.model_validate(webhook)


@router.patch(ONE, responses=_responses(WebhookNotFound, InvalidUrl, *BODY_ERRORS))
async def update_webhook(
    webhook_id: uuid.UUID,
    data: WebhookPatch,
    user: CurrentUser,
    connection: ConnectionDep,
    guard: GuardDep,
) -> WebhookPublic:
    """Change `url`, `events`, `description` or `enabled` (only the members sent). Enabling a
    disabled endpoint sends its pending deliveries."""
    webhook = await webhooks.update_webhook(
        connection=connection,
        guard=guard,
        user_id=user.id,
        webhook_id=webhook_id,
        members=data.model_dump(exclude_unset=True),
    )
    return WebhookPublic.model_validate(webhook)


@router.delete(ONE, status_code=status.HTTP_204_NO_CONTENT, responses=responses(WebhookNotFound))
async def delete_webhook(
    webhook_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep
) -> None:
    """Delete an endpoint, its delivery log and what it had still to receive."""
    await webhooks.delete_webhook(connection=connection, user_id=user.id, webhook_id=webhook_id)


@router.post(ONE + "/rotate-secret", responses=responses(WebhookNotFound))
async def rotate_secret(
    webhook_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep
) -> WebhookSecret:
    """A new signing secret, shown this once. For 24 hours every delivery carries two
    signatures, one with each secret."""
    secret = await webhooks.rotate_secret(
        connection=connection, user_id=user.id, webhook_id=webhook_id
    )
    return WebhookSecret(secret=secret)


@router.post(
    ONE + "/test",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_responses(WebhookNotFound, WebhookDisabled),
)
async def test_webhook(
    webhook_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep
) -> Accepted:
    """Queue a `webhook.test` delivery (`data`: `{"webhook_id"}`), whatever the endpoint's
    events."""
    delivery_id = await webhooks.queue_test(
        connection=connection, user_id=user.id, webhook_id=webhook_id
    )
    return Accepted(delivery_id=delivery_id)


@router.get(ONE + "/deliveries", responses=responses(WebhookNotFound))
async def list_deliveries(
    webhook_id: uuid.UUID,
    user: CurrentUser,
    connection: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> list[DeliveryPublic]:
    """The endpoint's deliveries of the last 30 days, newest first."""
    found = await webhooks.list_deliveries(
        connection=connection, user_id=user.id, webhook_id=webhook_id, limit=limit
    )
    return [DeliveryPublic.model_validate(delivery) for delivery in found]


@router.post(
    ONE + "/deliveries/{delivery_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_responses(WebhookNotFound, DeliveryNotFound, WebhookDisabled),
)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep
) -> Accepted:
    """One more attempt of a delivery, now, whatever its status: the same `webhook-id`, and
    `attempts` one more."""
    await webhooks.redeliver(
        connection=connection, user_id=user.id, webhook_id=webhook_id, delivery_id=delivery_id
    )
    return Accepted(delivery_id=delivery_id)
