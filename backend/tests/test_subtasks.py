"""Subtasks and manual order: placement on create, moves (anchors, lists, parents), the depth
and cycle rules (also under concurrency), completion, deletion and recurrence rules, and
`sort=position`."""

import asyncio
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

Headers = dict[str, str]


async def create(client: httpx.AsyncClient, headers: Headers, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "A task")
    response = await client.post("/api/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def move(
    client: httpx.AsyncClient, headers: Headers, task: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(f"/api/tasks/{task['id']}/move", json=body, headers=headers)


async def titles(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[str]:
    params.setdefault("sort", "position")
    params.setdefault("limit", 100)
    response = await client.get("/api/tasks", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()]


async def test_new_tasks_go_to_the_end_and_moves_reorder(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a, b, c = [await create(client, auth_headers, title=t) for t in "abc"]
    assert a["position"] < b["position"] < c["position"]
    assert await titles(client, auth_headers) == ["a", "b", "c"]
    response = await move(client, auth_headers, c, before_id=a["id"])
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["version"] == c["version"] + 1
    assert response.headers["ETag"] == f'"{moved["version"]}"'
    assert await titles(client, auth_headers) == ["c", "a", "b"]
    await move(client, auth_headers, c, after_id=a["id"])
    assert await titles(client, auth_headers) == ["a", "c", "b"]
    await move(client, auth_headers, a)  # to the end
    assert await titles(client, auth_headers) == ["c", "b", "a"]
    # The siblings were not written: same version, same ETag.
    b_now = await client.get(f"/api/tasks/{b['id']}", headers=auth_headers)
    assert b_now.json()["version"] == b["version"]
    assert b_now.json()["position"] == b["position"]


async def test_many_inserts_at_one_spot_keep_order_and_short_keys(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    first = await create(client, auth_headers, title="first")
    last = await create(client, auth_headers, title="last")
    inserted = []
    for n in range(40):
        task = await create(client, auth_headers, title=f"n{n:02d}")
        response = await move(client, auth_headers, task, before_id=last["id"])
        assert response.status_code == 200
        inserted.append(response.json())
        last_inserted = inserted[-1]
        await move(client, auth_headers, last, after_id=last_inserted["id"])
        # and the next goes between the previous one and `last`: always the same gap
    listed = await titles(client, auth_headers)
    assert listed == ["first", *(f"n{n:02d}" for n in range(40)), "last"]
    response = await client.get("/api/tasks", params={"limit": 100}, headers=auth_headers)
    assert max(len(task["position"]) for task in response.json()) <= 64
    assert first["position"]


async def test_subtasks_sort_depth_first_and_filters(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a = await create(client, auth_headers, title="a")
    b = await create(client, auth_headers, title="b")
    a1 = await create(client, auth_headers, title="a1", parent_id=a["id"])
    a2 = await create(client, auth_headers, title="a2", parent_id=a["id"])
    a1x = await create(client, auth_headers, title="a1x", parent_id=a1["id"])
    assert a1["list_id"] == a["list_id"]
    assert await titles(client, auth_headers) == ["a", "a1", "a1x", "a2", "b"]
    assert await titles(client, auth_headers, top_level="true") == ["a", "b"]
    assert await titles(client, auth_headers, parent_id=a["id"]) == ["a1", "a2"]
    await move(client, auth_headers, a2, before_id=a1["id"])
    assert await titles(client, auth_headers) == ["a", "a2", "a1", "a1x", "b"]
    await move(client, auth_headers, b, parent_id=a1x["id"])
    assert await titles(client, auth_headers) == ["a", "a2", "a1", "a1x", "b"]
    assert (await client.get(f"/api/tasks/{b['id']}", headers=auth_headers)).json()[
        "parent_id"
    ] == a1x["id"]
    assert a2["id"]


async def test_positions_sort_as_bytes_across_case(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    # Keys before the first one start with upper-case letters ("Zz" < "a0" as bytes, not in
    # a linguistic collation): the order must hold on PostgreSQL as on SQLite.
    first = await create(client, auth_headers, title="first")
    tasks = [first]
    for n in range(5):
        task = await create(client, auth_headers, title=f"before{n}")
        await move(client, auth_headers, task, before_id=tasks[-1]["id"])
        tasks.append(task)
    assert await titles(client, auth_headers) == [f"before{n}" for n in reversed(range(5))] + [
        "first"
    ]


@pytest.mark.parametrize(
    ("body_of", "field"),
    [
        (lambda t: {"before_id": t["b"], "after_id": t["c"]}, "after_id"),
        (lambda t: {"before_id": t["a"]}, "before_id"),  # itself
        (lambda t: {"before_id": t["a1"]}, "before_id"),  # not a sibling
        (lambda t: {"after_id": "00000000-0000-4000-8000-000000000000"}, "after_id"),
        (lambda t: {"parent_id": t["a1"]}, "parent_id"),  # under its own child
        (lambda t: {"parent_id": t["a"]}, "parent_id"),  # under itself
    ],
)
async def test_bad_moves_are_422_invalid_move_and_change_nothing(
    client: httpx.AsyncClient, auth_headers: Headers, body_of: Any, field: str
) -> None:
    a = await create(client, auth_headers, title="a")
    b = await create(client, auth_headers, title="b")
    c = await create(client, auth_headers, title="c")
    a1 = await create(client, auth_headers, title="a1", parent_id=a["id"])
    ids = {"a": a["id"], "b": b["id"], "c": c["id"], "a1": a1["id"]}
    response = await move(client, auth_headers, a, **body_of(ids))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_move"
    assert response.json()["detail"][0]["loc"] == ["body", field]
    after = (await client.get(f"/api/tasks/{a['id']}", headers=auth_headers)).json()
    assert (after["version"], after["position"], after["parent_id"]) == (
        a["version"],
        a["position"],
        None,
    )


async def chain(client: httpx.AsyncClient, headers: Headers, levels: int) -> list[dict[str, Any]]:
    tasks = [await create(client, headers, title="level 1")]
    for level in range(2, levels + 1):
        tasks.append(
            await create(client, headers, title=f"level {level}", parent_id=tasks[-1]["id"])
        )
    return tasks


async def test_four_levels_at_most(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    tasks = await chain(client, auth_headers, 4)
    response = await client.post(
        "/api/tasks", json={"title": "fifth", "parent_id": tasks[-1]["id"]}, headers=auth_headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_parent"
    assert response.json()["detail"][0]["loc"] == ["body", "parent_id"]
    pair = await chain(client, auth_headers, 2)
    moved = await move(client, auth_headers, pair[0], parent_id=tasks[2]["id"])
    assert moved.status_code == 422
    assert moved.json()["code"] == "invalid_move"
    ok = await move(client, auth_headers, pair[0], parent_id=tasks[1]["id"])
    assert ok.status_code == 200


async def test_parent_in_another_list_and_subtask_recurrence_are_422(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    other = (await client.post("/api/lists", json={"name": "Other"}, headers=auth_headers)).json()
    parent = await create(client, auth_headers, title="parent")
    response = await client.post(
        "/api/tasks",
        json={"title": "x", "list_id": other["id"], "parent_id": parent["id"]},
        headers=auth_headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_parent"
    recurring = await client.post(
        "/api/tasks",
        json={
            "title": "x",
            "parent_id": parent["id"],
            "due_date": "2030-01-01",
            "recurrence": "FREQ=DAILY",
        },
        headers=auth_headers,
    )
    assert recurring.status_code == 422
    assert recurring.json()["detail"][0]["loc"] == ["body", "recurrence"]
    child = await create(client, auth_headers, title="child", parent_id=parent["id"])
    patched = await client.patch(
        f"/api/tasks/{child['id']}",
        json={"due_date": "2030-01-01", "recurrence": "FREQ=DAILY"},
        headers=auth_headers,
    )
    assert patched.status_code == 422
    total = await client.get("/api/tasks", headers=auth_headers)
    assert total.headers["X-Total-Count"] == "2"


async def test_moving_to_another_list_takes_the_subtree(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    other = (await client.post("/api/lists", json={"name": "Other"}, headers=auth_headers)).json()
    parent = await create(client, auth_headers, title="parent")
    child = await create(client, auth_headers, title="child", parent_id=parent["id"])
    grandchild = await create(client, auth_headers, title="grandchild", parent_id=child["id"])
    lost = await move(client, auth_headers, child, list_id=other["id"])
    assert lost.status_code == 422  # a subtask moved to another list must name its parent
    response = await move(client, auth_headers, parent, list_id=other["id"])
    assert response.status_code == 200
    for task in (parent, child, grandchild):
        now = (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()
        assert now["list_id"] == other["id"]
    assert await titles(client, auth_headers, list_id=other["id"]) == [
        "parent",
        "child",
        "grandchild",
    ]
    patched = await client.patch(
        f"/api/tasks/{child['id']}", json={"parent_id": None}, headers=auth_headers
    )
    assert patched.status_code == 200
    assert patched.json()["parent_id"] is None
    assert await titles(client, auth_headers, list_id=other["id"], top_level="true") == [
        "parent",
        "child",
    ]


async def test_completing_cascades_down_and_reopening_does_not(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    parent = await create(client, auth_headers, title="parent")
    child = await create(client, auth_headers, title="child", parent_id=parent["id"])
    grandchild = await create(client, auth_headers, title="grandchild", parent_id=child["id"])
    await client.patch(f"/api/tasks/{parent['id']}", json={"completed": True}, headers=auth_headers)
    for task in (child, grandchild):
        now = (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()
        assert now["completed"] is True
        assert now["version"] == task["version"] + 1
    await client.patch(
        f"/api/tasks/{parent['id']}", json={"completed": False}, headers=auth_headers
    )
    now = (await client.get(f"/api/tasks/{child['id']}", headers=auth_headers)).json()
    assert now["completed"] is True


async def test_deleting_a_task_deletes_its_subtasks(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    parent = await create(client, auth_headers, title="parent")
    child = await create(client, auth_headers, title="child", parent_id=parent["id"])
    grandchild = await create(client, auth_headers, title="grandchild", parent_id=child["id"])
    cursor = (await client.get("/api/tasks/sync", headers=auth_headers)).json()["cursor"]
    assert (
        await client.delete(f"/api/tasks/{parent['id']}", headers=auth_headers)
    ).status_code == 204
    for task in (child, grandchild):
        gone = await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)
        assert gone.status_code == 404
    delta = await client.get("/api/tasks/sync", params={"cursor": cursor}, headers=auth_headers)
    assert {parent["id"], child["id"], grandchild["id"]} <= set(delta.json()["deleted"])


async def test_completing_a_recurring_parent_reopens_its_subtasks(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    series = await create(
        client, auth_headers, title="weekly", due_date="2030-01-07", recurrence="FREQ=WEEKLY"
    )
    step = await create(client, auth_headers, title="step", parent_id=series["id"])
    await client.patch(f"/api/tasks/{step['id']}", json={"completed": True}, headers=auth_headers)
    response = await client.patch(
        f"/api/tasks/{series['id']}", json={"completed": True}, headers=auth_headers
    )
    assert response.json()["due_date"] == "2030-01-14"
    assert response.json()["completed"] is False
    now = (await client.get(f"/api/tasks/{step['id']}", headers=auth_headers)).json()
    assert now["completed"] is False
    assert await titles(client, auth_headers) == ["weekly", "step", "weekly"]
    copies = await client.get(
        "/api/tasks", params={"series_id": series["id"]}, headers=auth_headers
    )
    [copy] = copies.json()
    assert copy["parent_id"] is None
    assert copy["list_id"] == series["list_id"]


async def test_assignee_is_null_or_a_member(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers, user: Any
) -> None:
    me = user["user"]["id"]
    stranger = (await client.get("/api/auth/me", headers=other_user_headers)).json()["id"]
    task = await create(client, auth_headers, title="mine", assignee_id=me)
    assert task["assignee_id"] == me
    await create(client, auth_headers, title="nobody's")
    bad = await client.post(
        "/api/tasks", json={"title": "x", "assignee_id": stranger}, headers=auth_headers
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_assignee"
    assert await titles(client, auth_headers, assignee="me") == ["mine"]
    assert await titles(client, auth_headers, assignee=me) == ["mine"]
    put = await client.put(f"/api/tasks/{task['id']}", json={"title": "v2"}, headers=auth_headers)
    assert put.json()["assignee_id"] == me  # a v2 client's PUT keeps the assignment


# --- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_moves_into_one_gap_get_distinct_positions(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a = await create(client, auth_headers, title="a")
    b = await create(client, auth_headers, title="b")
    movers = [await create(client, auth_headers, title=f"m{n}") for n in range(6)]
    responses = await asyncio.gather(
        *(move(client, auth_headers, task, after_id=a["id"]) for task in movers)
    )
    assert [r.status_code for r in responses] == [200] * 6
    keys = [r.json()["position"] for r in responses]
    assert len(set(keys)) == 6
    assert all(a["position"] < key < b["position"] for key in keys)
    listed = await titles(client, auth_headers)
    assert listed[0] == "a"
    assert listed[-1] == "b"


async def test_concurrent_moves_cannot_make_a_cycle(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    for _ in range(3):
        a = await create(client, auth_headers, title="a")
        b = await create(client, auth_headers, title="b")
        responses = await asyncio.gather(
            move(client, auth_headers, a, parent_id=b["id"]),
            move(client, auth_headers, b, parent_id=a["id"]),
        )
        assert sorted(r.status_code for r in responses) == [200, 422]


async def test_concurrent_moves_cannot_pass_four_levels(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    # Two chains of two: putting one under the other's bottom makes four levels, legal alone;
    # both at once (each under the other's bottom) would make a cycle or five.
    for _ in range(3):
        top, bottom = await chain(client, auth_headers, 2)
        other_top, other_bottom = await chain(client, auth_headers, 2)
        third = await chain(client, auth_headers, 2)
        responses = await asyncio.gather(
            move(client, auth_headers, other_top, parent_id=bottom["id"]),
            move(client, auth_headers, third[0], parent_id=other_bottom["id"]),
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 422], [r.text for r in responses]
        assert top["id"]
