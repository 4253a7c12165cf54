"""Request and response models: what the API accepts and shows, and nothing more."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema

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


def _email(value: str) -> str:
    """A syntactically valid address, normalised: trimmed and lower-cased. Nothing is sent to
    it, so deliverability is not checked and `.test` addresses (RFC 2606) are welcome."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return checked.normalized.lower()


def _bounded(*, strip: bool = False, min_length: int = 0, max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length)


@dataclass(frozen=True)
class Documented:
    """Writes a rule that a validator enforces into the JSON schema as a `pattern`, so clients
    and the schema-driven tests know it. Documentation only: pydantic does not evaluate it."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        json_schema["pattern"] = self.pattern
        return json_schema


# Unicode White_Space, which `strip_whitespace` trims (not Python's `\s`, not JavaScript's).
_SPACE = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NO_NUL = Documented(r"^[^\x00]*$")
NOT_BLANK = Documented(rf"^[^\x00]*[^\x00{_SPACE}][^\x00]*$")
# email-validator refuses the special-use domains of RFC 6761 but `.test` (`.local`, ...).
NOT_SPECIAL_USE = Documented(r"^(?!.*[@.](arpa|invalid|local|localhost|onion)\s*$)")

# Every accepted string is bounded, trimmed where it is a label, and storable (`_storable`).
Storable = AfterValidator(_storable)
Email = Annotated[
    str,
    StringConstraints(max_length=254),
    Storable,
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
    NOT_SPECIAL_USE,
]
Name = Annotated[str, _bounded(strip=True, min_length=1, max_length=100), Storable, NOT_BLANK]
Password = Annotated[str, _bounded(min_length=8, max_length=1024), Storable, NO_NUL]
LoginPassword = Annotated[str, _bounded(min_length=1, max_length=1024), Storable, NO_NUL]
Token = Annotated[str, _bounded(min_length=1, max_length=512), Storable, NO_NUL]
Title = Annotated[str, _bounded(strip=True, min_length=1, max_length=200), Storable, NOT_BLANK]
Description = Annotated[str, _bounded(max_length=5000), Storable, NO_NUL]
SearchTerm = Annotated[str, _bounded(max_length=200), Storable, NO_NUL]


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

    # Optional but not nullable: the schema must not offer null where `_not_null` refuses it.
    title: Title | SkipJsonSchema[None] = None
    description: Description | None = None
    priority: Priority | SkipJsonSchema[None] = None
    completed: StrictBool | SkipJsonSchema[None] = None

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
