"""What /api/health answers."""

from typing import Literal

from pydantic import BaseModel


class HealthStatus(BaseModel):
    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"


class HealthUnavailable(BaseModel):
    status: Literal["unavailable"] = "unavailable"
    database: Literal["unavailable"] = "unavailable"
    detail: str
    code: str
