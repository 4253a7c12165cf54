"""What every request body and string field shares: bounded, storable, documented text."""

from dataclasses import dataclass
from typing import Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


def storable_text(value: str) -> str:
    """Reject what no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def bounded(*, strip: bool = False, min_length: int = 0, max_length: int) -> StringConstraints:
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

# Every accepted string is bounded, trimmed where it is a label, and storable (`storable_text`).
Storable = AfterValidator(storable_text)


def _json_number(value: Any) -> Any:
    # JSON `true` is not 1 and `"30"` is not a number; `30.0` is (JSON Schema's integer).
    if isinstance(value, bool | str):
        raise ValueError("must be a whole number")
    return value


# On an `int`, after its bounds: a JSON integer as JSON Schema defines it (30 and 30.0), never
# `true` or `"30"`, which pydantic's lax mode would read as numbers.
WholeNumber = BeforeValidator(_json_number)


class Body(BaseModel):
    # Unknown members, server-owned ones included (id, user_id, timestamps), are ignored.
    model_config = ConfigDict(extra="ignore")
