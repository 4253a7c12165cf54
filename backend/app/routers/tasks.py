"""/api/tasks: the signed-in user's tasks, and only theirs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import TypeAdapter

from app import crud
from app.auth import CurrentUser
from app.database import ConnectionDep
from app.errors import AUTH_ERRORS, BODY_ERRORS, DatabaseUnavailable, TaskNotFound, responses
from app.pagination import set_paging_headers
from app.schemas import TaskCreate, TaskPatch, TaskPublic, TaskQuery, TaskUpdate

# A whole page in one call each way (the rows come as dicts; `total` is left out).
TASK_LIST = TypeAdapter(list[TaskPublic])

router = APIRouter(
    prefix="/api/tasks", tags=["tasks"], responses=responses(*AUTH_ERRORS, DatabaseUnavailable)
)


@router.get("", response_model=list[TaskPublic])
async def list_tasks(
    query: Annotated[TaskQuery, Query()],
    user: CurrentUser,
    connection: ConnectionDep,
    request: Request,
) -> Response:
    """List tasks: filter, search, sort and page. `X-Total-Count` and `Link` describe the pages."""
    tasks, total = await crud.list_tasks(connection=connection, owner_id=user.id, query=query)
    # Validated and serialised here in one pass each, instead of again by FastAPI.
    body = TASK_LIST.dump_json(TASK_LIST.validate_python(tasks))
    response = Response(body, media_type="application/json")
    set_paging_headers(response, request=request, query=query, total=total)
    return response


@router.post("", status_code=status.HTTP_201_CREATED, responses=responses(*BODY_ERRORS))
async def create_task(
    data: TaskCreate,
    user: CurrentUser,
    connection: ConnectionDep,
    request: Request,
    response: Response,
) -> TaskPublic:
    """Create a task."""
    task = await crud.create_task(connection=connection, owner_id=user.id, data=data)
    response.headers["Location"] = str(request.url_for("get_task", task_id=task["id"]))
    return TaskPublic.model_validate(task)


@router.get("/{task_id}", responses=responses(TaskNotFound))
async def get_task(task_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep) -> TaskPublic:
    """One task."""
    task = await crud.get_task(connection=connection, owner_id=user.id, task_id=task_id)
    return TaskPublic.model_validate(task)


@router.put("/{task_id}", responses=responses(TaskNotFound, *BODY_ERRORS))
async def replace_task(
    task_id: uuid.UUID, data: TaskUpdate, user: CurrentUser, connection: ConnectionDep
) -> TaskPublic:
    """Replace a task: members left out go back to their defaults."""
    task = await crud.update_task(
        connection=connection, owner_id=user.id, task_id=task_id, data=data
    )
    return TaskPublic.model_validate(task)


@router.patch("/{task_id}", responses=responses(TaskNotFound, *BODY_ERRORS))
async def update_task(
    task_id: uuid.UUID, data: TaskPatch, user: CurrentUser, connection: ConnectionDep
) -> TaskPublic:
    """Change only the members sent, e.g. `{"completed": true}`."""
    task = await crud.update_task(
        connection=connection, owner_id=user.id, task_id=task_id, data=data
    )
    return TaskPublic.model_validate(task)


@router.delete(
    "/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(TaskNotFound)
)
async def delete_task(task_id: uuid.UUID, user: CurrentUser, connection: ConnectionDep) -> None:
    """Delete a task."""
    await crud.delete_task(connection=connection, owner_id=user.id, task_id=task_id)
