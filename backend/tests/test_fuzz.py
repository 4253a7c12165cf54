"""Schema-driven fuzzing: schemathesis sends requests generated from /openapi.json, valid and
invalid, signed in and not. Every answer must be one the schema declares (status, body, headers,
content type), never a 5xx; invalid requests are refused and valid ones accepted; auth is
enforced; and a second user never reaches the first user's tasks."""

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.database import create_engine
from app.main import create_app
from tests.conftest import PASSWORD, bearer, make_client, make_settings, register
from tests.support.sse import parse_events

# Per operation, on top of the examples and the coverage phase's boundary values; deterministic
# (derandomized, no example database) so that CI runs the same cases every time.
MAX_EXAMPLES = 100
STATEFUL_SCENARIOS = 50

pytestmark = pytest.mark.usefixtures("anyio_backend")

# Only the OpenAPI document is read from this app; each test fuzzes an app on a fresh database.


def without_lifespan(app: Any) -> Any:
    """The app without its lifespan: loading the schema must not start the background jobs in
    another thread while this module's imports are still compiling, which CPython 3.11 does not
    survive reliably ("AST constructor recursion depth mismatch")."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return

    return asgi


openapi = schemathesis.openapi.from_asgi(
    "/openapi.json", without_lifespan(create_app(make_settings("sqlite://")))
)
openapi.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
# A well-formed sync cursor the service never issued is 410 `cursor_expired` (API.md).
openapi.config.checks.positive_data_acceptance.expected_statuses.append("410")


@schemathesis.deserializer("text/event-stream")
def events_as_a_client_reads_them(
    ctx: schemathesis.DeserializationContext, response: schemathesis.Response
) -> list[dict[str, Any]]:
    return parse_events(response.text)


def streams_hang_up_after_their_first_message(app: Any) -> Any:
    """The app, with each event stream ended by its client once the first message (the
    `connected` comment) is sent, as a client that has seen the stream open and hangs up: the
    stream itself never ends, so the answer's status, headers and first bytes are checked
    here, and tests/test_events.py checks the events that follow against the same schema."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/events":
            await app(scope, receive, send)
            return
        hung_up = asyncio.Event()
        streaming = False
        requested = False

        async def client_receive() -> Any:
            nonlocal requested
            if not requested:
                requested = True
                return await receive()
            await hung_up.wait()
            return {"type": "http.disconnect"}

        async def client_send(message: Any) -> None:
            nonlocal streaming
            if hung_up.is_set():
                return
            if message["type"] == "http.response.start":
                streaming = message["status"] == 200
            elif message["type"] == "http.response.body" and streaming:
                message = {**message, "more_body": False}
                hung_up.set()
            await send(message)

        await app(scope, client_receive, client_send)

    return asgi


@openapi.auth(refresh_interval=None)
class FirstUser:
    """Signs generated requests in as the current test's first user. Schemathesis leaves the
    header out (or spoils it) where it checks that missing or wrong credentials are refused."""

    token = ""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return FirstUser.token

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
        if "Idempotency-Key" in case.headers:
            # Each generated request is a new one: a key repeated with another body is 422.
            case.headers["Idempotency-Key"] = uuid.uuid4().hex


@dataclass(frozen=True)
class Api:
    app: Any  # the FastAPI app, its streams ended by the client
    other_headers: dict[str, str]

    def sign_in_new_first_user(self) -> None:
        body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Fuzz", "password": PASSWORD}
        answer = openapi["/api/auth/register"]["POST"].Case(body=body).call(app=self.app)
        FirstUser.token = answer.json()["access_token"]

    def others_see_none_of_these_tasks(
        self, ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
    ) -> None:
        """Every task the first user is shown answers 404 to the second user, read or deleted,
        and never shows up in the second user's list."""
        if response.status_code not in (200, 201) or not case.path.startswith("/api/tasks"):
            return
        body = response.json()
        if isinstance(body, dict) and "tasks" in body:  # a sync page
            body = body["tasks"]
        tasks = body[:3] if isinstance(body, list) else [body]
        one_task = openapi["/api/tasks/{task_id}"]
        for task in tasks:
            for method in ("GET", "DELETE"):
                probe = one_task[method].Case(
                    path_parameters={"task_id": task["id"]}, headers=self.other_headers
                )
                answer = probe.call(app=self.app)
                assert answer.status_code == 404, f"{method} of another user's task: {answer}"
        if tasks:
            listing = openapi["/api/tasks"]["GET"].Case(headers=self.other_headers)
            assert listing.call(app=self.app).json() == [], "another user's task was listed"


# What a schema cannot say: which RRULEs ever produce a date, the rules between a write's
# members and the task it changes (a due_time or rule on a task without a due date), and
# which ETag is current (If-Match: 412). A schema-valid request refused for one of these
# reasons, and only these, is not a failure.
SEMANTIC_422_MESSAGES = (
    "invalid recurrence rule",
    "the recurrence rule produces no date",
    "needs due_date",
    "cannot be cleared while the task has",
    # A webhook's events: "*" alone or names (the schema lists both kinds in one array).
    '"*" stands alone',
)


# From v3: ids in a body that name no task, or one that is not a sibling, or would make a
# cycle or a fifth level; the Inbox's protection; and no list the caller can see (404).
# And for webhooks: whether a URL's host resolves to public addresses only, how many
# endpoints the user has already, whether the endpoint is enabled.
SEMANTIC_CODES = (
    "invalid_parent",
    "invalid_move",
    "invalid_assignee",
    "inbox_protected",
    "invalid_url",
    "limit_reached",
    "webhook_disabled",
)


def semantic_422(response: schemathesis.Response) -> bool:
    if response.status_code == 404 and response.json().get("code") == "list_not_found":
        return True
    if response.status_code != 422:
        return False
    body = response.json()
    if body.get("code") in SEMANTIC_CODES:
        return True
    if isinstance(body["detail"], str):
        return False
    errors = body["detail"]
    return all(
        error["loc"][0] == "body" and any(m in error["msg"] for m in SEMANTIC_422_MESSAGES)
        for error in errors
    )


def valid_data_is_accepted(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> bool | None:
    """Schemathesis's positive_data_acceptance, less the refusals the schema cannot foresee."""
    if semantic_422(response) or response.status_code == 412:
        return None
    return positive_data_acceptance(ctx, response, case)  # type: ignore[no-any-return]


@pytest.fixture
async def api(settings: Settings, engine: AsyncEngine, schema: str | None) -> Api:
    # The users are registered on this test's event loop. Schemathesis drives the fuzzed app
    # from an event loop of its own, so that app gets an engine (and a pool) of its own.
    async with make_client(create_app(settings, engine=engine)) as client:
        owner, other = await register(client), await register(client)
    FirstUser.token = owner["access_token"]
    app = create_app(settings, engine=create_engine(settings, schema=schema))
    return Api(streams_hang_up_after_their_first_message(app), bearer(other))


@openapi.parametrize()
# One database and app per operation, shared by its examples: that is the point of the fixture.
@hypothesis.settings(suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
def test_every_operation_answers_as_its_schema_says(case: schemathesis.Case, api: Api) -> None:
    case.call_and_validate(
        app=api.app,
        additional_checks=[api.others_see_none_of_these_tasks, valid_data_is_accepted],
        excluded_checks=[positive_data_acceptance],
    )


def test_workflows_follow_links_and_keep_answering_as_declared(api: Api) -> None:
    """Stateful: create a task, then read, replace, patch and delete it (links inferred from
    the schema), with every check after every step."""

    # A list's move answers the sidebar (an array), which the stateful phase takes for a
    # created resource it then looks up by a link it cannot resolve; the operation itself is
    # fuzzed above like every other.
    stateful = openapi.exclude(path="/api/lists/{list_id}/move", method="POST")

    class Workflow(stateful.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Hypothesis replays scenarios, so each must start from the same state: no tasks.
            api.sign_in_new_first_user()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": api.app}

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: list[Any] | None = None,
            **kwargs: Any,
        ) -> None:
            checks = [
                *(additional_checks or []),
                api.others_see_none_of_these_tasks,
                valid_data_is_accepted,
            ]
            case.validate_response(
                response,
                additional_checks=checks,
                excluded_checks=[positive_data_acceptance],
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )


def required_header(responses: dict[str, Any], status: str, name: str) -> bool:
    header: dict[str, Any] = responses.get(status, {}).get("headers", {}).get(name, {})
    return header.get("required") is True


# The liveness probe touches nothing (API.md): it never answers 503.
NO_DATABASE = {"GET /api/health/live"}


def test_schema_declares_the_answers_fuzzing_cannot_provoke() -> None:
    """401 wherever a token is needed, 503 wherever the database is, 400/413/422 wherever a body
    is read, 429 where attempts are limited, each with the headers the contract promises."""
    paths = openapi.raw_schema["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            declared, where = operation["responses"], f"{method.upper()} {path}"
            if where not in NO_DATABASE:
                assert required_header(declared, "503", "Retry-After"), where
            if operation.get("security"):
                assert required_header(declared, "401", "WWW-Authenticate"), where
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(declared), where
    for path in ("/api/auth/register", "/api/auth/login"):
        assert required_header(paths[path]["post"]["responses"], "429", "Retry-After"), path


@pytest.mark.anyio
async def test_405_names_every_method_the_path_answers_to(client: httpx.AsyncClient) -> None:
    """Found by fuzzing: the router named only the methods of the first route it matched."""
    for path, allowed in [
        ("/api/tasks", "GET, HEAD, POST"),
        (f"/api/tasks/{uuid.uuid4()}", "GET, HEAD, PUT, PATCH, DELETE"),
        ("/api/health", "GET, HEAD"),
    ]:
        response = await client.options(path)
        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
