"""Request and response models: what the API accepts and shows, and nothing more."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from app.models import Priority


def _storable(value: str) -> str:
    """Reject what no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _normalise_email(value: str) -> str:
    return value.strip().lower()


def _bounded(*, strip: bool = False, min_length: int = 0, max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length)


# Every accepted string is bounded, trimmed where it is a label, and storable (`_storable`).
Storable = AfterValidator(_storable)
Email = Annotated[
    EmailStr, StringConstraints(max_length=254), Storable, AfterValidator(_normalise_email)
]
Name = Annotated[str, _bounded(strip=True, min_length=1, max_length=100), Storable]
Password = Annotated[str, _bounded(min_length=8, max_length=1024), Storable]
LoginPassword = Annotated[str, _bounded(min_length=1, max_length=1024), Storable]
Token = Annotated[str, _bounded(min_length=1, max_length=512), Storable]
Title = Annotated[str, _bounded(strip=True, min_length=1, max_length=200), Storable]
Description = Annotated[str, _bounded(max_length=5000), Storable]
SearchTerm = Annotated[str, _bounded(max_length=200), Storable]


class Body(BaseModel):
    # Unknown members, server-owned ones included (id, user_id, timestamps), are ignored.
    model_config = ConfigDict(extra="ignore")


# --- accounts ---------------------------------------------------------------------------------


class RegisterRequest(Body):
    email: Email
    name: Name
    password: Password


class LoginRequest(Body):
    email: Email
    password: LoginPassword


class RefreshRequest(Body):
    refresh_token: Token


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    created_at: datetime
    updated_at: datetime


class AuthResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    user: UserPublic


# --- tasks ------------------------------------------------------------------------------------


class TaskCreate(Body):
    title: Title
    description: Description | None = None
    priority: Priority = Priority.MEDIUM
    completed: StrictBool = False


class TaskUpdate(TaskCreate):
    """PUT: the whole task; what is left out goes back to its default."""


class TaskPatch(Body):
    """PATCH: only the members sent change; `description` alone may be set to null."""

    title: Title | None = None
    description: Description | None = None
    priority: Priority | None = None
    completed: StrictBool | None = None

    @field_validator("title", "priority", "completed")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    description: str | None
    completed: bool
    priority: Priority
    created_at: datetime
    updated_at: datetime


TaskSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "priority",
    "-priority",
    "title",
    "-title",
]


class TaskQuery(BaseModel):
    status: Literal["all", "active", "completed"] = "all"
    search: SearchTerm | None = None
    priority: Priority | None = None
    sort: TaskSort = "-created_at"
    page: int = Field(1, ge=1, le=1_000_000)
    limit: int = Field(20, ge=1, le=100)


class HealthStatus(BaseModel):
    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"


class HealthUnavailable(BaseModel):
    status: Literal["unavailable"] = "unavailable"
    database: Literal["unavailable"] = "unavailable"
    detail: str
    code: str
