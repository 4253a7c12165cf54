"""Lists: the Inbox, creating, renaming, archiving, deleting with every task, sidebar order, and
the one visibility rule (another user's list is 404 wherever its id appears)."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import register

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


async def make_list(client: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Groceries")
    response = await client.post("/api/lists", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def lists_of(client: httpx.AsyncClient, headers: Headers, **params: str) -> list[Any]:
    response = await client.get("/api/lists", params=params, headers=headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


async def test_every_account_starts_with_an_inbox_holding_new_tasks(
    client: httpx.AsyncClient, auth_headers: Headers, user: dict[str, Any]
) -> None:
    [inbox] = await lists_of(client, auth_headers)
    assert inbox["is_inbox"] is True
    assert inbox["name"] == "Inbox"
    assert inbox["role"] == "owner"
    assert inbox["owner_id"] == user["user"]["id"]
    assert inbox["member_count"] == 1
    task = (await client.post("/api/tasks", json={"title": "x"}, headers=auth_headers)).json()
    assert task["list_id"] == inbox["id"]
    assert task["parent_id"] is None
    assert task["comment_count"] == 0


async def test_create_rename_colour_archive_and_order(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/api/lists", json={"name": "  Work ", "color": "#AABBCC"}, headers=auth_headers
    )
    assert response.status_code == 201
    work = response.json()
    assert (work["name"], work["color"], work["version"]) == ("Work", "#aabbcc", 1)
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/api/lists/{work['id']}")
    home = await make_list(client, auth_headers, name="Home")
    names = [entry["name"] for entry in await lists_of(client, auth_headers)]
    assert names == ["Inbox", "Work", "Home"]

    patched = await client.patch(
        f"/api/lists/{work['id']}", json={"name": "Job", "archived": True}, headers=auth_headers
    )
    assert patched.status_code == 200
    assert patched.json()["version"] == 2
    assert patched.headers["ETag"] == '"2"'
    assert [e["name"] for e in await lists_of(client, auth_headers)] == ["Inbox", "Home"]
    archived = await lists_of(client, auth_headers, archived="true")
    assert [e["name"] for e in archived] == ["Job"]
    assert len(await lists_of(client, auth_headers, archived="all")) == 3

    stale = await client.patch(
        f"/api/lists/{home['id']}",
        json={"name": "x"},
        headers={**auth_headers, "If-Match": '"9"'},
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    current = await client.get(f"/api/lists/{home['id']}", headers=auth_headers)
    assert current.json()["name"] == "Home"
    cached = await client.get(
        f"/api/lists/{home['id']}", headers={**auth_headers, "If-None-Match": '"1"'}
    )
    assert cached.status_code == 304


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "ok", "color": "red"},
        {"name": "ok", "color": "#12345g"},
        {"name": "ok", "color": "#1234567"},
    ],
)
async def test_bad_list_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers, body: dict[str, Any]
) -> None:
    response = await client.post("/api/lists", json=body, headers=auth_headers)
    assert response.status_code == 422
    field = "color" if "color" in body else "name"
    assert any(error["loc"][-1] == field for error in response.json()["detail"])
    assert len(await lists_of(client, auth_headers)) == 1


async def test_the_inbox_is_protected(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    [inbox] = await lists_of(client, auth_headers)
    other = await make_list(client, auth_headers)
    for method, path, body in [
        ("PATCH", f"/api/lists/{inbox['id']}", {"name": "Mine"}),
        ("PATCH", f"/api/lists/{inbox['id']}", {"archived": True}),
        ("DELETE", f"/api/lists/{inbox['id']}", None),
        ("POST", f"/api/lists/{inbox['id']}/move", {"after_id": other["id"]}),
        ("POST", f"/api/lists/{other['id']}/move", {"before_id": inbox["id"]}),
    ]:
        response = await client.request(method, path, json=body, headers=auth_headers)
        assert response.status_code == 422, (method, path, body)
        assert response.json()["code"] == "inbox_protected"
    recoloured = await client.patch(
        f"/api/lists/{inbox['id']}", json={"color": "#00ff00"}, headers=auth_headers
    )
    assert recoloured.status_code == 200
    assert [e["is_inbox"] for e in await lists_of(client, auth_headers)] == [True, False]


async def test_moving_lists_changes_the_callers_sidebar(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a = await make_list(client, auth_headers, name="A")
    b = await make_list(client, auth_headers, name="B")
    c = await make_list(client, auth_headers, name="C")
    moved = await client.post(
        f"/api/lists/{c['id']}/move", json={"before_id": a["id"]}, headers=auth_headers
    )
    assert moved.status_code == 200
    assert [e["name"] for e in moved.json()] == ["Inbox", "C", "A", "B"]
    moved = await client.post(
        f"/api/lists/{a['id']}/move", json={"after_id": b["id"]}, headers=auth_headers
    )
    assert [e["name"] for e in moved.json()] == ["Inbox", "C", "B", "A"]
    assert [e["name"] for e in await lists_of(client, auth_headers)] == ["Inbox", "C", "B", "A"]
    both = await client.post(
        f"/api/lists/{a['id']}/move",
        json={"after_id": b["id"], "before_id": c["id"]},
        headers=auth_headers,
    )
    assert both.status_code == 422


async def test_deleting_a_list_deletes_its_tasks_and_leaves_tombstones(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    doomed = await make_list(client, auth_headers)
    first = await client.get("/api/tasks/sync", headers=auth_headers)
    cursor = first.json()["cursor"]
    ids = []
    for title in ("one", "two"):
        response = await client.post(
            "/api/tasks", json={"title": title, "list_id": doomed["id"]}, headers=auth_headers
        )
        ids.append(response.json()["id"])
    child = await client.post(
        "/api/tasks", json={"title": "sub", "parent_id": ids[0]}, headers=auth_headers
    )
    ids.append(child.json()["id"])
    kept = (await client.post("/api/tasks", json={"title": "kept"}, headers=auth_headers)).json()

    response = await client.delete(f"/api/lists/{doomed['id']}", headers=auth_headers)
    assert response.status_code == 204
    assert (await client.get(f"/api/lists/{doomed['id']}", headers=auth_headers)).status_code == 404
    for task_id in ids:
        gone = await client.get(f"/api/tasks/{task_id}", headers=auth_headers)
        assert gone.status_code == 404
    listed = (await client.get("/api/tasks", headers=auth_headers)).json()
    assert [task["id"] for task in listed] == [kept["id"]]
    delta = (
        await client.get("/api/tasks/sync", params={"cursor": cursor}, headers=auth_headers)
    ).json()
    assert set(ids) <= set(delta["deleted"])


async def test_another_users_list_is_not_found_in_path_body_and_query(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    theirs = await make_list(client, other_user_headers, name="Secret")
    their_task = (
        await client.post(
            "/api/tasks", json={"title": "t", "list_id": theirs["id"]}, headers=other_user_headers
        )
    ).json()
    unknown = str(uuid.uuid4())
    for list_id in (theirs["id"], unknown):
        for method, path, body in [
            ("GET", f"/api/lists/{list_id}", None),
            ("PATCH", f"/api/lists/{list_id}", {"name": "mine now"}),
            ("DELETE", f"/api/lists/{list_id}", None),
            ("POST", "/api/tasks", {"title": "x", "list_id": list_id}),
        ]:
            response = await client.request(method, path, json=body, headers=auth_headers)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["code"] == "list_not_found"
        listed = await client.get("/api/tasks", params={"list_id": list_id}, headers=auth_headers)
        assert listed.status_code == 404
        assert listed.json()["code"] == "list_not_found"
    mine = (await client.post("/api/tasks", json={"title": "m"}, headers=auth_headers)).json()
    moved = await client.post(
        f"/api/tasks/{mine['id']}/move", json={"list_id": theirs["id"]}, headers=auth_headers
    )
    assert moved.status_code == 404
    assert moved.json()["code"] == "list_not_found"
    patched = await client.patch(
        f"/api/tasks/{mine['id']}", json={"list_id": theirs["id"]}, headers=auth_headers
    )
    assert patched.status_code == 404
    under_theirs = await client.post(
        "/api/tasks", json={"title": "x", "parent_id": their_task["id"]}, headers=auth_headers
    )
    assert under_theirs.status_code == 422
    assert under_theirs.json()["code"] == "invalid_parent"
    assert (await client.get(f"/api/lists/{theirs['id']}", headers=other_user_headers)).json()[
        "name"
    ] == "Secret"
    assert len((await client.get("/api/tasks", headers=other_user_headers)).json()) == 1


async def test_the_list_limit(
    client: httpx.AsyncClient, auth_headers: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.lists.service.MAX_OWNED_LISTS", 3)
    await make_list(client, auth_headers)
    await make_list(client, auth_headers)
    response = await client.post("/api/lists", json={"name": "one too many"}, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["code"] == "limit_reached"
    assert len(await lists_of(client, auth_headers)) == 3


async def test_a_new_user_gets_their_own_inbox(client: httpx.AsyncClient) -> None:
    first = await register(client, email="one@example.com")
    second = await register(client, email="two@example.com")
    inboxes = set()
    for auth in (first, second):
        headers = {"Authorization": f"Bearer {auth['access_token']}"}
        [inbox] = await lists_of(client, headers)
        inboxes.add(inbox["id"])
    assert len(inboxes) == 2
