"""/api/tags: the signed-in user's tags, with how many tasks carry each; rename and delete."""

from fastapi import APIRouter, status

from app.accounts.dependencies import CurrentUser
from app.accounts.errors import AUTH_ERRORS
from app.core.database import ConnectionDep
from app.core.errors import BODY_ERRORS, DatabaseUnavailable, responses
from app.tasks import service
from app.tasks.errors import TagNotFound
from app.tasks.schemas import TagPublic, TagRename

router = APIRouter(
    prefix="/api/tags", tags=["tags"], responses=responses(*AUTH_ERRORS, DatabaseUnavailable)
)

# `{name:path}`: a tag may contain a slash (sent as %2F or as is).
ONE_TAG = "/{name:path}"


@router.get("")
async def list_tags(user: CurrentUser, connection: ConnectionDep) -> list[TagPublic]:
    """The user's tags (in the case first used) and how many tasks carry each, completed
    ones included; sorted by name, case-insensitively."""
    tags = await service.list_tags(connection=connection, owner_id=user.id)
    return [TagPublic.model_validate(tag) for tag in tags]


@router.patch(ONE_TAG, responses=responses(TagNotFound, *BODY_ERRORS))
async def rename_tag(
    name: str, data: TagRename, user: CurrentUser, connection: ConnectionDep
) -> TagPublic:
    """Rename a tag on every task that carries it (`name` matches case-insensitively). Into
    an existing tag of the new name, the two merge."""
    tag = await service.rename_tag(
        connection=connection, owner_id=user.id, name=name, new_name=data.name
    )
    return TagPublic.model_validate(tag)


@router.delete(ONE_TAG, status_code=status.HTTP_204_NO_CONTENT, responses=responses(TagNotFound))
async def delete_tag(name: str, user: CurrentUser, connection: ConnectionDep) -> None:
    """Remove a tag from every task that carries it (`name` matches case-insensitively)."""
    await service.delete_tag(connection=connection, owner_id=user.id, name=name)
