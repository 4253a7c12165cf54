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


class Alive(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ok"] = "ok"
    database: Literal["ok"] = "ok"
    broker: Literal["ok", "not_configured"]


NotReadyCode = Literal["shutting_down", "database_unavailable", "broker_unavailable"]


class NotReady(BaseModel):
    status: Literal["unavailable"] = "unavailable"
    database: Literal["ok", "unavailable"]
    broker: Literal["ok", "unavailable", "not_configured"]
    draining: bool
    detail: str
    code: NotReadyCode
