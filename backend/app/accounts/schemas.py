"""Request and response models of the account routes."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.core.validation import (
    NO_NUL,
    NOT_BLANK,
    NOT_SPECIAL_USE,
    Body,
    Storable,
    WholeNumber,
    bounded,
)
from app.tasks.fields import IanaZone


def _email(value: str) -> str:
    """A syntactically valid address, normalised: trimmed and lower-cased. Nothing is sent to
    it, so deliverability is not checked and `.test` addresses (RFC 2606) are welcome."""
    try:
        checked = validate_email(value.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None
    return checked.normalized.lower()


Email = Annotated[
    str,
    StringConstraints(max_length=254),
    Storable,
    AfterValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
    NOT_SPECIAL_USE,
]
Name = Annotated[str, bounded(strip=True, min_length=1, max_length=100), Storable, NOT_BLANK]
Password = Annotated[str, bounded(min_length=8, max_length=1024), Storable, NO_NUL]
LoginPassword = Annotated[str, bounded(min_length=1, max_length=1024), Storable, NO_NUL]
Token = Annotated[str, bounded(min_length=1, max_length=512), Storable, NO_NUL]


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
    time_zone: str = Field(
        description="IANA zone of the user's tasks that name none (default `UTC`).",
        examples=["Europe/Paris"],
    )


class UserUpdate(Body):
    """PATCH /api/auth/me: the members sent change; neither may be null."""

    name: Name | SkipJsonSchema[None] = None
    time_zone: (
        Annotated[
            IanaZone,
            Field(
                description="IANA zone name; dated tasks without a zone of their own follow it.",
                examples=["America/New_York"],
            ),
        ]
        | SkipJsonSchema[None]
    ) = None

    @field_validator("name", "time_zone")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may not be null")
        return value


class AuthResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    user: UserPublic


class PersonalTokenCreate(Body):
    name: Name = Field(description="What the token is for, e.g. `Claude Desktop`.")
    expires_in_days: Annotated[int, Field(ge=1, le=3650), WholeNumber] | None = Field(
        None, description="Days until the token stops working; left out: never."
    )


class PersonalTokenPublic(BaseModel):
    """A personal access token as listed: never the token itself."""

    id: uuid.UUID
    name: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(
        description="Set at the first use, then kept accurate to a minute."
    )


class PersonalTokenCreated(PersonalTokenPublic):
    token: str = Field(
        description="The bearer token, shown only in this response: store it now. It works on "
        "the task routes, `/api/auth/me` and `/mcp`."
    )
