"""Request and response models of the list routes."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.core.validation import NOT_BLANK, Body, Storable, bounded

ListName = Annotated[str, bounded(strip=True, min_length=1, max_length=100), Storable, NOT_BLANK]


def _lower(value: str) -> str:
    return value.lower()


Color = Annotated[
    str,
    Field(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#3b82f6"], description="`#rrggbb`"),
    AfterValidator(_lower),
]


class ListCreate(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Groceries"}]})

    name: ListName
    color: Color | None = None


class ListPatch(Body):
    """Only the members sent change; `color: null` clears the colour."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"archived": True}]})

    name: ListName | SkipJsonSchema[None] = None
    color: Color | None = None
    archived: StrictBool | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _not_null(self) -> "ListPatch":
        for member in ("name", "archived"):
            if member in self.model_fields_set and getattr(self, member) is None:
                raise ValueError(f"{member} may not be null")
        return self


class ListMove(Body):
    """Exactly one of the two: the list goes just before or just after that list."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"after_id": "0b8e6f7a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"}],
            # Exactly one of the two, as a string.
            "oneOf": [
                {"required": ["before_id"], "properties": {"before_id": {"type": "string"}}},
                {"required": ["after_id"], "properties": {"after_id": {"type": "string"}}},
            ],
        }
    )

    before_id: uuid.UUID | SkipJsonSchema[None] = None
    after_id: uuid.UUID | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one_anchor(self) -> "ListMove":
        if (self.before_id is None) == (self.after_id is None):
            raise ValueError("give exactly one of before_id and after_id")
        return self


class ListPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    color: str | None = Field(description="`#rrggbb` in lowercase, or null.")
    is_inbox: bool
    role: Literal["owner", "editor", "viewer"] = Field(description="The caller's role.")
    owner_id: uuid.UUID
    archived: bool
    member_count: int
    created_at: datetime
    updated_at: datetime
    version: int = Field(
        description="+1 on any change to the list; the `ETag` is its quoted value."
    )


class ListQuery(BaseModel):
    archived: Literal["false", "true", "all"] = "false"
