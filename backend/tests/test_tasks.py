"""Tasks: CRUD, validation, isolation between users, listing, paging — on both databases."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import AuthSession
from app.core.config import Settings
from app.core.database import DRIVER_READS, create_engine
from app.main import create_app
from tests.conftest import PASSWORD, TEST_SECRET, make_client, make_settings, register

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


async def create(client: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "A task")
    response = await client.post("/api/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- create and read ---------------------------------------------------------------------------


async def test_create_returns_201_with_location_and_defaults(
    client: httpx.AsyncClient, auth_headers: Headers, user: dict[str, Any]
) -> None:
    response = await client.post("/api/tasks", json={"title": "  Buy milk  "}, headers=auth_headers)
    assert response.status_code == 201
    task = response.json()
    assert response.headers["Location"].endswith(f"/api/tasks/{task['id']}")
    assert task["title"] == "Buy milk"
    assert task["description"] is None
    assert task["completed"] is False
    assert task["priority"] == "Medium"
    assert task["user_id"] == user["user"]["id"]
    assert uuid.UUID(task["id"])
    assert task["created_at"] == task["updated_at"]
    assert parse_time(task["created_at"]).utcoffset() is not None
    located = await client.get(response.headers["Location"], headers=auth_headers)
    assert located.json() == task


async def test_create_with_every_field(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    task = await create(
        client, auth_headers, title="Plan", description="Details", priority="High", completed=True
    )
    assert (task["description"], task["priority"], task["completed"]) == ("Details", "High", True)


async def test_server_owned_fields_in_a_body_never_take_effect(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    other = await create(client, other_user_headers)
    forged = {
        "title": "Mine",
        "id": other["id"],
        "user_id": other["user_id"],
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
    }
    task = await create(client, auth_headers, **forged)
    assert task["id"] != other["id"]
    assert task["user_id"] != other["user_id"]
    assert not task["created_at"].startswith("2000")
    patched = await client.patch(f"/api/tasks/{task['id']}", json=forged, headers=auth_headers)
    assert patched.json()["user_id"] == task["user_id"]
    assert patched.json()["created_at"] == task["created_at"]
    # The other user's task is untouched.
    assert (
        await client.get(f"/api/tasks/{other['id']}", headers=other_user_headers)
    ).json() == other


@pytest.mark.parametrize(
    "text",
    ["Café crème", "日本語のタスク", "emoji 🎉🚀", "Ελληνικά", "right-to-left עברית", "a\u0301"],
)
async def test_unicode_round_trips(
    client: httpx.AsyncClient, auth_headers: Headers, text: str
) -> None:
    task = await create(client, auth_headers, title=text, description=text * 3)
    fetched = (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()
    assert (fetched["title"], fetched["description"]) == (text, text * 3)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "x" * 201},
        {"title": None},
        {"title": 42},
        {"title": "ok", "description": "d" * 5001},
        {"title": "ok", "priority": "high"},
        {"title": "ok", "priority": "Urgent"},
        {"title": "ok", "priority": None},
        {"title": "ok", "completed": "true"},
        {"title": "ok", "completed": 1},
        {"title": "ok", "completed": None},
        {"title": "bad\u0000byte"},
        {"title": "ok", "description": "nul\u0000"},
        [],
        "just a string",
    ],
)
async def test_invalid_task_bodies_are_422(
    client: httpx.AsyncClient, auth_headers: Headers, body: Any
) -> None:
    response = await client.post("/api/tasks", json=body, headers=auth_headers)
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], list)
    listed = await client.get("/api/tasks", headers=auth_headers)
    assert listed.json() == []  # nothing half-written


async def test_title_limits_count_characters_after_trimming(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, title="  " + "é" * 200 + "  ", description="d" * 5000)
    assert task["title"] == "é" * 200
    assert len(task["description"]) == 5000


async def test_lone_surrogate_is_422_not_500(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/api/tasks",
        content=b'{"title": "\\ud800"}',
        headers=auth_headers | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("task_id", ["not-a-uuid", "1", "' OR 1=1 --", "%00"])
async def test_malformed_ids_are_404_or_422(
    client: httpx.AsyncClient, auth_headers: Headers, task_id: str
) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = await client.request(
            method, f"/api/tasks/{task_id}", json={"title": "x"}, headers=auth_headers
        )
        assert response.status_code in {404, 422}, (method, response.text)


# --- update and delete -------------------------------------------------------------------------


async def test_put_replaces_and_resets_omitted_fields(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(
        client, auth_headers, title="Old", description="Desc", priority="High", completed=True
    )
    response = await client.put(
        f"/api/tasks/{task['id']}", json={"title": "New"}, headers=auth_headers
    )
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "New"
    assert (replaced["description"], replaced["priority"], replaced["completed"]) == (
        None,
        "Medium",
        False,
    )
    assert replaced["created_at"] == task["created_at"]
    assert parse_time(replaced["updated_at"]) > parse_time(task["updated_at"])


async def test_put_requires_a_title(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    task = await create(client, auth_headers)
    response = await client.put(
        f"/api/tasks/{task['id']}", json={"completed": True}, headers=auth_headers
    )
    assert response.status_code == 422


async def test_patch_changes_only_what_is_sent(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, title="Keep", description="Keep too", priority="Low")
    done = await client.patch(
        f"/api/tasks/{task['id']}", json={"completed": True}, headers=auth_headers
    )
    assert done.status_code == 200
    assert (
        done.json() | {"completed": False, "updated_at": task["updated_at"], "version": 1} == task
    )
    assert parse_time(done.json()["updated_at"]) > parse_time(task["updated_at"])
    reopened = await client.patch(
        f"/api/tasks/{task['id']}", json={"completed": False}, headers=auth_headers
    )
    assert reopened.json()["completed"] is False
    cleared = await client.patch(
        f"/api/tasks/{task['id']}", json={"description": None}, headers=auth_headers
    )
    assert cleared.json()["description"] is None
    assert cleared.json()["title"] == "Keep"


@pytest.mark.parametrize(
    "body",
    [{"title": None}, {"completed": None}, {"priority": None}, {"title": ""}, {"completed": "yes"}],
)
async def test_patch_rejects_nulls_and_bad_values(
    client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any]
) -> None:
    task = await create(client, auth_headers)
    response = await client.patch(f"/api/tasks/{task['id']}", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json() == task


async def test_every_write_moves_updated_at_and_never_created_at(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    seen = [task["updated_at"]]
    for body in ({"title": "A task"}, {"completed": False}, {}):
        response = await client.patch(f"/api/tasks/{task['id']}", json=body, headers=auth_headers)
        assert response.json()["created_at"] == task["created_at"]
        seen.append(response.json()["updated_at"])
    assert [parse_time(s) for s in seen] == sorted({parse_time(s) for s in seen})


async def test_delete_then_everything_is_404(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    url = f"/api/tasks/{task['id']}"
    response = await client.delete(url, headers=auth_headers)
    assert response.status_code == 204
    assert response.content == b""
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        gone = await client.request(method, url, json={"title": "x"}, headers=auth_headers)
        assert gone.status_code == 404
        assert gone.json()["code"] == "task_not_found"


# --- isolation ---------------------------------------------------------------------------------


async def test_another_users_task_is_not_found_for_every_method(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    theirs = await create(client, other_user_headers, title="Private")
    missing = f"/api/tasks/{uuid.uuid4()}"
    url = f"/api/tasks/{theirs['id']}"
    for method, body in (
        ("GET", None),
        ("PUT", {"title": "x"}),
        ("PATCH", {"title": "x"}),
        ("DELETE", None),
    ):
        stolen = await client.request(method, url, json=body, headers=auth_headers)
        unknown = await client.request(method, missing, json=body, headers=auth_headers)
        assert stolen.status_code == unknown.status_code == 404
        assert (
            stolen.json()
            == unknown.json()
            == {"detail": "Task not found.", "code": "task_not_found"}
        )
    # Nothing happened to it.
    assert (await client.get(url, headers=other_user_headers)).json() == theirs


async def test_lists_only_show_the_owners_tasks(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    mine = await create(client, auth_headers, title="mine")
    await create(client, other_user_headers, title="theirs")
    for params in ({}, {"status": "all"}, {"search": "i"}, {"limit": 100}, {"user_id": "x"}):
        response = await client.get("/api/tasks", params=params, headers=auth_headers)
        assert [t["id"] for t in response.json()] == [mine["id"]]
        assert response.headers["X-Total-Count"] == "1"


async def test_tasks_require_authentication(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    for method, url in (
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", f"/api/tasks/{task['id']}"),
        ("PATCH", f"/api/tasks/{task['id']}"),
        ("DELETE", f"/api/tasks/{task['id']}"),
    ):
        response = await client.request(method, url, json={"title": "x"})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


# --- concurrency -------------------------------------------------------------------------------


async def test_parallel_patches_all_succeed_and_leave_one_sent_state(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    bodies = [
        {"title": f"title {n}", "priority": ("High", "Low")[n % 2], "completed": n % 3 == 0}
        for n in range(50)
    ]
    responses = await asyncio.gather(
        *(client.patch(f"/api/tasks/{task['id']}", json=b, headers=auth_headers) for b in bodies)
    )
    assert [r.status_code for r in responses] == [200] * 50
    final = (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()
    assert {k: final[k] for k in ("title", "priority", "completed")} in bodies


async def test_parallel_deletes_give_one_204_and_404s(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    responses = await asyncio.gather(
        *(client.delete(f"/api/tasks/{task['id']}", headers=auth_headers) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [204] + [404] * 9


# --- listing -----------------------------------------------------------------------------------


async def test_empty_list_is_an_empty_array_with_headers(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/api/tasks", headers=auth_headers)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "0"
    assert 'rel="first"' in response.headers["Link"]
    assert 'rel="next"' not in response.headers["Link"]


async def test_default_list_is_newest_first(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    ids = [(await create(client, auth_headers, title=f"t{n}"))["id"] for n in range(3)]
    listed = (await client.get("/api/tasks", headers=auth_headers)).json()
    assert [t["id"] for t in listed] == ids[::-1]


async def test_status_and_priority_filters(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a = await create(client, auth_headers, title="a", priority="High", completed=True)
    b = await create(client, auth_headers, title="b", priority="High")
    c = await create(client, auth_headers, title="c", priority="Low", completed=True)

    async def ids(**params: str) -> set[str]:
        response = await client.get("/api/tasks", params=params, headers=auth_headers)
        assert response.headers["X-Total-Count"] == str(len(response.json()))
        return {t["id"] for t in response.json()}

    assert await ids(status="completed") == {a["id"], c["id"]}
    assert await ids(status="active") == {b["id"]}
    assert await ids(status="all") == {a["id"], b["id"], c["id"]}
    assert await ids(priority="High") == {a["id"], b["id"]}
    assert await ids(priority="High", status="completed") == {a["id"]}
    assert await ids(priority="Low", status="active") == set()


async def test_search_is_case_insensitive_on_title_and_description(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    title = await create(client, auth_headers, title="Buy MILK")
    desc = await create(client, auth_headers, title="Errand", description="get milk and bread")
    await create(client, auth_headers, title="Other")
    unicode_task = await create(
        client, auth_headers, title="ÉCOLE Ärger Straße", description="ΣΟΦΙΑ"
    )

    async def ids(term: str, **params: str) -> set[str]:
        response = await client.get(
            "/api/tasks", params={"search": term, **params}, headers=auth_headers
        )
        return {t["id"] for t in response.json()}

    assert await ids("milk") == {title["id"], desc["id"]}
    assert await ids("MiLk", status="active") == {title["id"], desc["id"]}
    assert await ids("école") == {unicode_task["id"]}
    assert await ids("ärger") == {unicode_task["id"]}
    assert await ids("σοφια") == {unicode_task["id"]}
    assert await ids("STRASSE") == {unicode_task["id"]}  # full case folding: ß ~ ss
    assert await ids("nothing") == set()


async def test_search_treats_wildcards_literally(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    percent = await create(client, auth_headers, title="100% done")
    underscore = await create(client, auth_headers, title="snake_case")
    backslash = await create(client, auth_headers, title="C:\\path")
    await create(client, auth_headers, title="1000 things")
    await create(client, auth_headers, title="snakeXcase")

    async def ids(term: str) -> set[str]:
        response = await client.get("/api/tasks", params={"search": term}, headers=auth_headers)
        return {t["id"] for t in response.json()}

    assert await ids("%") == {percent["id"]}
    assert await ids("0%") == {percent["id"]}
    assert await ids("_") == {underscore["id"]}
    assert await ids("e_c") == {underscore["id"]}
    assert await ids("\\") == {backslash["id"]}


async def test_search_does_not_match_across_title_and_description(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await create(client, auth_headers, title="abc", description="def")
    for term in ("cd", "c\x1fd", "\x1f"):
        response = await client.get("/api/tasks", params={"search": term}, headers=auth_headers)
        assert response.json() == [], repr(term)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"priority": "urgent"},
        {"priority": "high"},
        {"sort": "id"},
        {"sort": "--title"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999999999999999999"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "1.5"},
        {"search": "x" * 201},
        {"search": "nul\u0000"},
    ],
)
async def test_out_of_range_query_values_are_422(
    client: httpx.AsyncClient, auth_headers: Headers, params: dict[str, str]
) -> None:
    response = await client.get("/api/tasks", params=params, headers=auth_headers)
    assert response.status_code == 422, response.text
    # FastAPI's shape: each error names the parameter it is about.
    [(name, _)] = params.items()
    assert [error["loc"] for error in response.json()["detail"]] == [["query", name]]


async def test_query_parameters_are_checked_after_the_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tasks", params={"limit": "0"})
    assert response.status_code == 401
    response = await client.get("/api/tasks?limit=0&status=done", headers={"X-Request-ID": "q"})
    assert response.status_code == 401


async def test_repeated_query_parameter_counts_with_its_last_value(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    for title in ("a", "b", "c"):
        await client.post("/api/tasks", json={"title": title}, headers=auth_headers)
    response = await client.get("/api/tasks?limit=0&limit=2&sort=title", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert [task["title"] for task in response.json()] == ["a", "b"]
    several_errors = await client.get("/api/tasks?limit=0&page=0", headers=auth_headers)
    locs = [error["loc"] for error in several_errors.json()["detail"]]
    assert locs == [["query", "page"], ["query", "limit"]]


async def test_openapi_documents_the_list_parameters(client: httpx.AsyncClient) -> None:
    listing = (await client.get("/openapi.json")).json()["paths"]["/api/tasks"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert list(parameters) == [
        "status",
        "search",
        "priority",
        "sort",
        "page",
        "limit",
        "tag",
        "due_after",
        "due_before",
        "has_due",
        "overdue",
        "series_id",
        "list_id",
        "parent_id",
        "top_level",
        "assignee",
    ]
    assert all(p["in"] == "query" and not p["required"] for p in parameters.values())
    assert parameters["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
        "title": "Limit",
    }
    assert "422" in listing["responses"]


SORTS = [
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "priority",
    "-priority",
    "title",
    "-title",
]


def sort_key(sort: str) -> Any:
    field = sort.lstrip("-")
    rank = {"High": 0, "Medium": 1, "Low": 2}

    def key(task: dict[str, Any]) -> Any:
        value = task[field]
        if field == "priority":
            value = rank[value]
        elif field.endswith("_at"):
            value = parse_time(value)
        return (value, uuid.UUID(task["id"]))

    return key


@pytest.fixture
async def many_tasks(client: httpx.AsyncClient, auth_headers: Headers) -> list[dict[str, Any]]:
    """23 tasks with many ties: equal titles and priorities, and some updates."""
    tasks = []
    for n in range(23):
        tasks.append(
            await create(
                client,
                auth_headers,
                title=f"task {n % 4}",
                priority=("High", "Medium", "Low")[n % 3],
                completed=n % 2 == 0,
            )
        )
    for task in tasks[::5]:
        response = await client.patch(
            f"/api/tasks/{task['id']}", json={"completed": True}, headers=auth_headers
        )
        tasks[tasks.index(task)] = response.json()
    return tasks


@pytest.mark.parametrize("sort", SORTS)
async def test_paging_walk_visits_every_task_once_in_order(
    client: httpx.AsyncClient, auth_headers: Headers, many_tasks: list[dict[str, Any]], sort: str
) -> None:
    seen: list[dict[str, Any]] = []
    url: str | None = f"/api/tasks?sort={sort}&limit=5"
    pages = 0
    while url:
        response = await client.get(url, headers=auth_headers)
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "23"
        seen.extend(response.json())
        links = parse_links(response.headers["Link"])
        url = links.get("next")
        pages += 1
    assert pages == 5
    assert len(seen) == 23
    assert len({t["id"] for t in seen}) == 23
    key = sort_key(sort)
    text_sorted = sorted(seen, key=key, reverse=sort.startswith("-"))
    if sort.lstrip("-") == "title":
        # Collation may differ between databases; ties must still be broken by id.
        assert [t["title"] for t in seen] == [t["title"] for t in text_sorted]
    else:
        assert seen == text_sorted


def parse_links(header: str) -> dict[str, str]:
    links = {}
    for part in header.split(","):
        url, rel = part.split(";")
        links[rel.strip().removeprefix('rel="').removesuffix('"')] = url.strip()[1:-1]
    return links


async def test_link_header_keeps_the_other_parameters(
    client: httpx.AsyncClient, auth_headers: Headers, many_tasks: list[dict[str, Any]]
) -> None:
    params = {"status": "all", "search": "task", "sort": "title", "limit": "5", "page": "2"}
    response = await client.get("/api/tasks", params=params, headers=auth_headers)
    links = parse_links(response.headers["Link"])
    assert set(links) == {"first", "prev", "next", "last"}
    expected_pages = {"first": "1", "prev": "1", "next": "3", "last": "5"}
    for rel, url in links.items():
        query = parse_qs(urlsplit(url).query)
        assert query.pop("page") == [expected_pages[rel]]
        assert query == {k: [v] for k, v in params.items() if k != "page"}


async def test_page_past_the_end_is_empty_with_total(
    client: httpx.AsyncClient, auth_headers: Headers, many_tasks: list[dict[str, Any]]
) -> None:
    response = await client.get("/api/tasks", params={"page": 9, "limit": 5}, headers=auth_headers)
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "23"
    links = parse_links(response.headers["Link"])
    assert "next" not in links
    assert parse_qs(urlsplit(links["prev"]).query)["page"] == ["5"]


async def test_default_limit_is_20(
    client: httpx.AsyncClient, auth_headers: Headers, many_tasks: list[dict[str, Any]]
) -> None:
    response = await client.get("/api/tasks", headers=auth_headers)
    assert len(response.json()) == 20


# --- cost ----------------------------------------------------------------------------------------


@asynccontextmanager
async def recorded_statements(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """The statements sent to the database: through SQLAlchemy, and (on PostgreSQL) the ones
    `fetch_all` and the fast reads hand straight to asyncpg, which only asyncpg's query logger
    sees. asyncpg calls its loggers soon after a query, not during it, and a fast read may
    finish without giving the event loop another turn: one turn before looking."""
    statements: list[str] = []

    def through_sqlalchemy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            statements.append(statement)

    def through_asyncpg(query: Any) -> None:
        statements.append(query.query)

    def watch(dbapi_connection: Any, *args: Any) -> None:
        if engine.dialect.name == "postgresql":
            dbapi_connection.driver_connection.add_query_logger(through_asyncpg)

    def unwatch(dbapi_connection: Any, *args: Any) -> None:
        if engine.dialect.name == "postgresql":
            dbapi_connection.driver_connection.remove_query_logger(through_asyncpg)

    listeners = (
        ("before_cursor_execute", through_sqlalchemy),
        ("checkout", watch),
        ("checkin", unwatch),
    )
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield statements
        await asyncio.sleep(0)
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


async def test_task_reads_cost_one_statement_with_the_session_check_in_it(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    engine: AsyncEngine,
    many_tasks: list[dict[str, Any]],
) -> None:
    async with recorded_statements(engine) as statements:
        response = await client.get("/api/tasks", params={"limit": 100}, headers=auth_headers)
    assert len(response.json()) == 23
    # The page, its total and the token's session check in one statement: no N+1.
    assert len(statements) == 1, statements
    assert "count(*)" in statements[0]
    assert "auth_sessions" in statements[0]
    assert "LIMIT" in statements[0]

    async with recorded_statements(engine) as statements:
        response = await client.get(f"/api/tasks/{many_tasks[0]['id']}", headers=auth_headers)
    assert response.status_code == 200
    assert len(statements) == 1, statements
    assert "auth_sessions" in statements[0]


async def test_an_empty_page_still_checks_the_session_and_counts(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    engine: AsyncEngine,
    many_tasks: list[dict[str, Any]],
) -> None:
    async with recorded_statements(engine) as statements:
        response = await client.get("/api/tasks?page=3&limit=20", headers=auth_headers)
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "23"
    # Nothing came back: the session check on its own, then the count.
    assert len(statements) == 3, statements
    assert "auth_sessions" in statements[1]
    assert "count(*)" in statements[2]


@pytest.mark.parametrize("route", ["list", "empty list", "one task", "missing task"])
async def test_task_reads_refuse_a_logged_out_session_even_with_tasks_to_show(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    many_tasks: list[dict[str, Any]],
    route: str,
) -> None:
    """The reads check the session inside their own statement: a revoked session must turn
    a page full of tasks into a 401, not just an empty one."""
    # A second session of the same user (the fixtures' own session stays live).
    login = await client.post(
        "/api/auth/login", json={"email": user["user"]["email"], "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    url = {
        "list": "/api/tasks",
        "empty list": "/api/tasks?page=99",
        "one task": f"/api/tasks/{many_tasks[0]['id']}",
        "missing task": f"/api/tasks/{uuid.uuid4()}",
    }[route]
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    before = await client.get(url, headers=headers)
    assert before.status_code == (404 if route == "missing task" else 200)
    logout = await client.post(
        "/api/auth/logout", json={"refresh_token": login.json()["refresh_token"]}, headers=headers
    )
    assert logout.status_code == 204
    after = await client.get(url, headers=headers)
    assert after.status_code == 401
    assert after.json()["code"] == "session_revoked"
    assert after.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", ["list", "one task"])
@pytest.mark.parametrize("token", ["another user's session", "unknown session", "expired session"])
async def test_task_reads_check_the_tokens_session_like_every_route(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    user: dict[str, Any],
    many_tasks: list[dict[str, Any]],
    route: str,
    token: str,
) -> None:
    url = "/api/tasks" if route == "list" else f"/api/tasks/{many_tasks[0]['id']}"
    claims = jwt.decode(user["access_token"], options={"verify_signature": False})
    if token == "another user's session":
        theirs = jwt.decode(
            (await register(client))["access_token"], options={"verify_signature": False}
        )
        claims["sid"] = theirs["sid"]
    elif token == "unknown session":
        claims["sid"] = str(uuid.uuid4())
    else:
        async with engine.begin() as connection:
            await connection.execute(
                update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    forged = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    response = await client.get(url, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text
    expected = "session_revoked" if token == "expired session" else "token_invalid"
    assert response.json()["code"] == expected


@pytest.mark.usefixtures("needs_postgres")
async def test_reads_straight_to_asyncpg_answer_exactly_like_sqlalchemy(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    schema: str | None,
    auth_headers: Headers,
    many_tasks: list[dict[str, Any]],
) -> None:
    """On PostgreSQL the hot reads skip SQLAlchemy's execution layer; behind PgBouncer they go
    through it. Same data, same answers, byte for byte."""
    pooled_settings = make_settings(settings.database_url, db_pgbouncer=True)
    pooled_engine = create_engine(pooled_settings, schema=schema)
    pooled_app = create_app(pooled_settings, engine=pooled_engine)
    assert app.state.database.reader.get_execution_options()[DRIVER_READS]
    assert not pooled_app.state.database.reader.get_execution_options()[DRIVER_READS]
    task_id = many_tasks[3]["id"]
    urls = [
        "/api/tasks",
        "/api/tasks?status=active&sort=priority&limit=5&page=2",
        "/api/tasks?status=completed&sort=-updated_at",
        "/api/tasks?search=TASK%201&priority=High&sort=title",
        "/api/tasks?page=9",  # past the end: the count statement
        f"/api/tasks/{task_id}",
        f"/api/tasks/{uuid.uuid4()}",
        "/api/auth/me",
    ]
    try:
        async with make_client(pooled_app) as pooled:
            for url in urls:
                direct = await client.get(url, headers=auth_headers)
                through_sqlalchemy = await pooled.get(url, headers=auth_headers)
                assert direct.status_code == through_sqlalchemy.status_code, url
                assert direct.content == through_sqlalchemy.content, url
                for header in ("X-Total-Count", "Link"):
                    assert direct.headers.get(header) == through_sqlalchemy.headers.get(header)
    finally:
        await pooled_engine.dispose()
