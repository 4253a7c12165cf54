"""Property tests: generated task bodies and list parameters, checked against a small model of
the contract. Never a 5xx; a request is accepted exactly when the contract says it is valid; an
accepted write stores what the contract says; a list shows exactly the matching tasks, in order.

Each test runs its examples against one fresh database (the fixtures are per test, hence the
suppressed health check); the examples are derandomized so that CI runs the same ones always."""

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import bearer, register

pytestmark = pytest.mark.anyio

Task = dict[str, Any]

CI_SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Unicode White_Space: what the API trims from titles (Python's str.strip() trims more).
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
WHITE_SPACE += "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
PRIORITIES = ("High", "Medium", "Low")


# --- strategies ------------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8"), max_size=12)
# Trimmed, plus look-alikes that are not (Python's str.strip() and JavaScript's trim() differ).
padding = st.text(WHITE_SPACE + "\x1c\x1d\x1e\x1f\ufeff\u200b", max_size=3)
tricky_text = st.sampled_from(
    ["", "\x00", "a\x00b", "\x1f", "\ufeff", "\u200b", "😀" * 200, "😀" * 201, "%_\\", "İß"]
)
lengths = st.sampled_from([199, 200, 201, 4999, 5000, 5001])
strings = st.one_of(
    st.tuples(padding, text, padding).map("".join),
    tricky_text,
    st.tuples(st.text(" ", max_size=2), lengths).map(lambda pair: pair[0] + "x" * pair[1]),
)
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
members = {
    "title": strings | json_values,
    "description": strings | json_values,
    "priority": st.sampled_from([*PRIORITIES, "high", "HIGH", "", "Urgent"]) | json_values,
    "completed": st.booleans() | st.sampled_from(["true", "false", 0, 1]) | json_values,
}
# Server-owned members must be ignored, whatever they hold.
server_owned = {
    "id": st.uuids().map(str),
    "user_id": st.uuids().map(str),
    "created_at": st.just("2000-01-01T00:00:00Z"),
}
task_bodies = st.one_of(
    st.fixed_dictionaries({}, optional=members | server_owned),
    st.fixed_dictionaries(  # mostly valid
        {"title": strings}, optional={k: v for k, v in members.items() if k != "title"}
    ),
    json_values,  # not even an object
)


# --- the model -------------------------------------------------------------------------------


def valid_title(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    title = value.strip(WHITE_SPACE)
    return title if 1 <= len(title) <= 200 and "\x00" not in title else None


def valid_description(value: Any) -> tuple[bool, str | None]:
    if value is None:
        return True, None
    ok = isinstance(value, str) and len(value) <= 5000 and "\x00" not in value
    return ok, value if ok else None


def expected_task(method: str, body: Any, current: Task | None) -> Task | None:
    """The task's writable fields after `method` with `body`, or None when it must be 422.
    POST and PUT start from the defaults, PATCH from the current task."""
    if not isinstance(body, dict):
        return None
    if method == "PATCH":
        assert current is not None
        task = {key: current[key] for key in ("title", "description", "priority", "completed")}
    elif "title" not in body:
        return None
    else:
        task = {"description": None, "priority": "Medium", "completed": False}
    if "title" in body:
        task["title"] = valid_title(body["title"])
        if task["title"] is None:
            return None
    if "description" in body:
        ok, task["description"] = valid_description(body["description"])
        if not ok:
            return None
    if "priority" in body:
        if body["priority"] not in PRIORITIES:
            return None
        task["priority"] = body["priority"]
    if "completed" in body:
        if type(body["completed"]) is not bool:
            return None
        task["completed"] = body["completed"]
    return task


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.utcoffset() is not None, value
    return moment


def assert_task_shape(task: Task, owner_id: str) -> None:
    assert set(task) == {
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "priority",
        "created_at",
        "updated_at",
        # v2: every task shows them; these bodies never send any, so they keep their defaults.
        "due_date",
        "due_time",
        "time_zone",
        "due_at",
        "recurrence",
        "remind_at",
        "reminded_at",
        "tags",
        "series_id",
        "version",
        # v3: every task is in a list (these bodies name none: the owner's Inbox), top level.
        "list_id",
        "parent_id",
        "position",
        "assignee_id",
        "comment_count",
    }
    assert uuid.UUID(task["id"])
    assert uuid.UUID(task["list_id"])
    assert task["parent_id"] is None
    assert task["assignee_id"] is None
    assert task["comment_count"] == 0
    assert task["user_id"] == owner_id
    assert parse_time(task["created_at"]) <= parse_time(task["updated_at"])


# --- writes ----------------------------------------------------------------------------------


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> dict[str, Any]:
    return await register(client)


@CI_SETTINGS
@given(body=task_bodies)
async def test_created_task_is_what_the_contract_says_or_422(
    client: httpx.AsyncClient, owner: dict[str, Any], body: Any
) -> None:
    headers = bearer(owner)
    response = await client.post("/api/tasks", json=body, headers=headers)
    expected = expected_task("POST", body, None)
    if expected is None:
        assert response.status_code == 422, (body, response.text)
        assert isinstance(response.json()["detail"], list)
        return
    assert response.status_code == 201, (body, response.text)
    task = response.json()
    assert_task_shape(task, owner["user"]["id"])
    assert {key: task[key] for key in expected} == expected
    assert task["created_at"] == task["updated_at"]
    assert response.headers["Location"].endswith(f"/api/tasks/{task['id']}")
    assert (await client.get(response.headers["Location"], headers=headers)).json() == task


@CI_SETTINGS
@given(method=st.sampled_from(["PUT", "PATCH"]), body=task_bodies)
async def test_updated_task_is_what_the_contract_says_or_422_and_unchanged(
    client: httpx.AsyncClient, owner: dict[str, Any], method: str, body: Any
) -> None:
    headers = bearer(owner)
    seed = {"title": "seed", "description": "kept?", "priority": "Low", "completed": True}
    current = (await client.post("/api/tasks", json=seed, headers=headers)).json()
    url = f"/api/tasks/{current['id']}"
    response = await client.request(method, url, json=body, headers=headers)
    expected = expected_task(method, body, current)
    stored = (await client.get(url, headers=headers)).json()
    if expected is None:
        assert response.status_code == 422, (body, response.text)
        assert stored == current
        return
    assert response.status_code == 200, (body, response.text)
    task = response.json()
    assert_task_shape(task, owner["user"]["id"])
    assert {key: task[key] for key in expected} == expected
    assert (task["id"], task["created_at"]) == (current["id"], current["created_at"])
    assert parse_time(task["updated_at"]) > parse_time(current["updated_at"])
    assert stored == task


# --- lists -----------------------------------------------------------------------------------

# Lower-case ASCII titles sort the same in every collation, so title order can be checked
# exactly on any PostgreSQL; descriptions carry the case, Unicode and LIKE wildcards.
DESCRIPTIONS = [
    None,
    "Buy MILK",
    "100% sure",
    "snake_case and 50%",
    "back\\slash",
    "Straße",
    "STRASSE",
    "Émile déjà vu",
    "😀 emoji",
    "",
]
SEARCH_FRAGMENTS = ["milk", "%", "_", "\\", "ss", "ß", "émile", "É", "😀", "alpha", "a", "ta_"]


@pytest.fixture
async def dataset(client: httpx.AsyncClient, owner: dict[str, Any]) -> list[Task]:
    """30 tasks with ties in every sort key, some updated after creation, and another user's
    tasks that must never show."""
    headers = bearer(owner)
    tasks = []
    for n in range(30):
        body = {
            "title": ["alpha", "beta", "gamma", "delta", "alphabet", "beta"][n % 6],
            "description": DESCRIPTIONS[n % len(DESCRIPTIONS)],
            "priority": PRIORITIES[n % 3],
            "completed": n % 4 == 0,
        }
        tasks.append((await client.post("/api/tasks", json=body, headers=headers)).json())
    for index in range(0, 30, 7):
        url = f"/api/tasks/{tasks[index]['id']}"
        patched = await client.patch(url, json={"completed": True}, headers=headers)
        tasks[index] = patched.json()
    stranger = bearer(await register(client))
    for title in ("alpha", "milk"):
        await client.post("/api/tasks", json={"title": title}, headers=stranger)
    return tasks


SORT_KEYS = ["created_at", "updated_at", "priority", "title"]
SORTS = [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)]

list_params = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["all", "active", "completed", "done", ""]),
        "priority": st.sampled_from([*PRIORITIES, "high", ""]),
        "sort": st.sampled_from([*SORTS, "id", "--title", ""]),
        "search": st.sampled_from(SEARCH_FRAGMENTS) | st.text(max_size=3) | st.just("x" * 201),
        "page": st.integers(-1, 12) | st.sampled_from([10**6, 10**6 + 1]),
        "limit": st.integers(0, 8) | st.sampled_from([20, 100, 101]),
    },
)


def expected_page(tasks: list[Task], params: dict[str, Any]) -> tuple[list[str], int] | None:
    """The ids of the requested page and the total, or None when the request must be 422."""
    status = params.get("status", "all")
    priority = params.get("priority")
    sort = params.get("sort", "-created_at")
    search = params.get("search")
    page, limit = params.get("page", 1), params.get("limit", 20)
    if (
        status not in ("all", "active", "completed")
        or (priority is not None and priority not in PRIORITIES)
        or sort not in SORTS
        or (search is not None and (len(search) > 200 or "\x00" in search))
        or not 1 <= page <= 10**6
        or not 1 <= limit <= 100
    ):
        return None

    def matches(task: Task) -> bool:
        if status != "all" and task["completed"] != (status == "completed"):
            return False
        if priority is not None and task["priority"] != priority:
            return False
        term = (search or "").casefold()
        fields = (task["title"], task["description"] or "")
        return not term or any(term in field.casefold() for field in fields)

    field = sort.lstrip("-")

    def key(task: Task) -> tuple[Any, uuid.UUID]:
        value = task[field]
        if field == "priority":
            value = PRIORITIES.index(value)
        elif field.endswith("_at"):
            value = parse_time(value)
        return value, uuid.UUID(task["id"])

    found = sorted(filter(matches, tasks), key=key, reverse=sort.startswith("-"))
    start = (page - 1) * limit
    return [task["id"] for task in found[start : start + limit]], len(found)


@CI_SETTINGS
@given(params=list_params)
async def test_list_shows_exactly_the_matching_page_or_422(
    client: httpx.AsyncClient, owner: dict[str, Any], dataset: list[Task], params: dict[str, Any]
) -> None:
    response = await client.get("/api/tasks", params=params, headers=bearer(owner))
    expected = expected_page(dataset, params)
    if expected is None:
        assert response.status_code == 422, (params, response.text)
        return
    assert response.status_code == 200, (params, response.text)
    ids, total = expected
    body = response.json()
    for task in body:
        assert_task_shape(task, owner["user"]["id"])
    assert [task["id"] for task in body] == ids, params
    assert int(response.headers["X-Total-Count"]) == total >= len(body)
    assert len(body) <= params.get("limit", 20)
    rels = {part.split('rel="')[1].rstrip('"') for part in response.headers["Link"].split(", ")}
    last = max(1, -(-total // params.get("limit", 20)))
    page = params.get("page", 1)
    assert rels == {"first", "last"} | ({"prev"} if page > 1 else set()) | (
        {"next"} if page < last else set()
    )
