"""Tags: canonical case, counts, rename (and merge), delete, filtering and search."""

from typing import Any

import httpx
import pytest

from tests.test_tasks import Headers, create

pytestmark = pytest.mark.anyio


async def tags_of(client: httpx.AsyncClient, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get("/api/tags", headers=headers)
    assert response.status_code == 200
    body: list[dict[str, Any]] = response.json()
    return body


async def listed(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[str]:
    response = await client.get("/api/tasks", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["X-Total-Count"] == str(len(response.json()))
    return [task["title"] for task in response.json()]


async def test_tags_are_trimmed_deduplicated_and_shown_in_the_case_first_used(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    first = await create(client, auth_headers, title="a", tags=[" Work ", "work", "WORK", "Home"])
    assert first["tags"] == ["Work", "Home"]
    second = await create(client, auth_headers, title="b", tags=["home", "ßtraße", "errands"])
    assert second["tags"] == ["Home", "ßtraße", "errands"]
    assert await tags_of(client, auth_headers) == [
        {"name": "errands", "count": 1},
        {"name": "Home", "count": 2},
        {"name": "ßtraße", "count": 1},  # case-folded: "sstrasse"
        {"name": "Work", "count": 1},
    ]
    # 20 different tags after collapsing duplicates are fine.
    many = [f"t{n}" for n in range(20)] + ["T0", "t1"]
    assert len((await create(client, auth_headers, title="c", tags=many))["tags"]) == 20


async def test_a_tag_no_task_carries_any_more_disappears(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, tags=["solo", "shared"])
    other = await create(client, auth_headers, tags=["Shared"])
    patched = await client.patch(
        f"/api/tasks/{task['id']}", json={"tags": ["shared", "new"]}, headers=auth_headers
    )
    assert patched.json()["tags"] == ["shared", "new"]
    assert [t["name"] for t in await tags_of(client, auth_headers)] == ["new", "shared"]
    await client.delete(f"/api/tasks/{other['id']}", headers=auth_headers)
    await client.delete(f"/api/tasks/{task['id']}", headers=auth_headers)
    assert await tags_of(client, auth_headers) == []
    # Once gone, a tag starts over in the case it is used next.
    assert (await create(client, auth_headers, tags=["SHARED"]))["tags"] == ["SHARED"]


async def test_filter_by_tags_needs_all_of_them_in_any_case(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    await create(client, auth_headers, title="both", tags=["work", "urgent"])
    await create(client, auth_headers, title="work only", tags=["Work"])
    await create(client, auth_headers, title="none")
    await create(client, other_user_headers, title="theirs", tags=["work"])
    assert await listed(client, auth_headers, tag="WORK", sort="title") == ["both", "work only"]
    assert await listed(client, auth_headers, tag=["work", "Urgent"]) == ["both"]
    assert await listed(client, auth_headers, tag=["work", "unknown"]) == []
    assert await listed(client, auth_headers, tag="work", search="only") == ["work only"]


async def test_search_matches_tags_but_not_across_members(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    await create(client, auth_headers, title="Call mum", description="sunday", tags=["Family"])
    assert await listed(client, auth_headers, search="famil") == ["Call mum"]
    assert await listed(client, auth_headers, search="dayfam") == []
    assert await listed(client, auth_headers, search="mumsun") == []


async def test_rename_moves_a_tag_on_every_task_and_merges_into_an_existing_one(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a = await create(client, auth_headers, title="a", tags=["job", "x"])
    b = await create(client, auth_headers, title="b", tags=["Work", "job"])
    renamed = await client.patch("/api/tags/JOB", json={"name": "work"}, headers=auth_headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json() == {"name": "Work", "count": 2}

    async def get(task: dict[str, Any]) -> dict[str, Any]:
        return (await client.get(f"/api/tasks/{task['id']}", headers=auth_headers)).json()

    after_a, after_b = await get(a), await get(b)
    assert after_a["tags"] == ["Work", "x"]
    assert after_b["tags"] == ["Work"]
    assert (after_a["version"], after_b["version"]) == (2, 2)
    assert await tags_of(client, auth_headers) == [
        {"name": "Work", "count": 2},
        {"name": "x", "count": 1},
    ]
    assert await listed(client, auth_headers, tag="job") == []
    assert await listed(client, auth_headers, search="job") == []
    # A change of case only: the same tag, shown in the new case.
    cased = await client.patch("/api/tags/work", json={"name": "WORK"}, headers=auth_headers)
    assert cased.json() == {"name": "WORK", "count": 2}
    assert (await get(a))["tags"] == ["WORK", "x"]


async def test_delete_removes_a_tag_from_every_task(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    a = await create(client, auth_headers, tags=["a/b", "keep"])
    response = await client.delete("/api/tags/A%2FB", headers=auth_headers)
    assert response.status_code == 204
    task = (await client.get(f"/api/tasks/{a['id']}", headers=auth_headers)).json()
    assert (task["tags"], task["version"]) == (["keep"], 2)
    assert await tags_of(client, auth_headers) == [{"name": "keep", "count": 1}]


async def test_unknown_and_other_users_tags_are_not_found(
    client: httpx.AsyncClient, auth_headers: Headers, other_user_headers: Headers
) -> None:
    await create(client, other_user_headers, tags=["private"])
    for method, body in (("PATCH", {"name": "mine"}), ("DELETE", None)):
        response = await client.request(
            method, "/api/tags/private", json=body, headers=auth_headers
        )
        assert response.status_code == 404
        assert response.json() == {"detail": "Tag not found.", "code": "tag_not_found"}
    assert await tags_of(client, auth_headers) == []
    assert await tags_of(client, other_user_headers) == [{"name": "private", "count": 1}]
    assert (await client.get("/api/tags")).status_code == 401


@pytest.mark.parametrize("name", ["", "   ", "x" * 51, "bell\u0007"])
async def test_renaming_to_an_invalid_name_is_422(
    client: httpx.AsyncClient, auth_headers: Headers, name: str
) -> None:
    await create(client, auth_headers, tags=["ok"])
    response = await client.patch("/api/tags/ok", json={"name": name}, headers=auth_headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert await tags_of(client, auth_headers) == [{"name": "ok", "count": 1}]


@pytest.mark.parametrize(
    "params",
    [{"tag": ""}, {"tag": "x" * 51}, {"tag": [f"t{n}" for n in range(21)]}],
)
async def test_bad_tag_filters_are_422(
    client: httpx.AsyncClient, auth_headers: Headers, params: dict[str, Any]
) -> None:
    response = await client.get("/api/tasks", params=params, headers=auth_headers)
    assert response.status_code == 422
    assert {e["loc"][1] for e in response.json()["detail"]} == {"tag"}
