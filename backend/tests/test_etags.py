"""Versions and ETags: every single-task response has one, If-None-Match answers 304, and
If-Match makes a write conditional (412 precondition_failed, nothing written)."""

import httpx
import pytest

from tests.test_tasks import Headers, create

pytestmark = pytest.mark.anyio


async def test_every_single_task_response_carries_the_versions_etag(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    created = await client.post("/api/tasks", json={"title": "x"}, headers=auth_headers)
    assert created.headers["ETag"] == '"1"'
    url = f"/api/tasks/{created.json()['id']}"
    assert (await client.get(url, headers=auth_headers)).headers["ETag"] == '"1"'
    patched = await client.patch(url, json={"title": "y"}, headers=auth_headers)
    assert (patched.headers["ETag"], patched.json()["version"]) == ('"2"', 2)
    put = await client.put(url, json={"title": "z"}, headers=auth_headers)
    assert (put.headers["ETag"], put.json()["version"]) == ('"3"', 3)
    # Even a PATCH that changes nothing is a write.
    empty = await client.patch(url, json={}, headers=auth_headers)
    assert empty.headers["ETag"] == '"4"'


async def test_if_none_match_answers_304_while_the_copy_is_current(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers)
    url = f"/api/tasks/{task['id']}"
    for header in ('"1"', 'W/"1"', '"7", "1"', "*"):
        response = await client.get(url, headers=auth_headers | {"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["ETag"] == '"1"'
    await client.patch(url, json={"title": "new"}, headers=auth_headers)
    response = await client.get(url, headers=auth_headers | {"If-None-Match": '"1"'})
    assert response.status_code == 200
    assert response.json()["title"] == "new"
    # No way around authentication.
    other = await client.get(url, headers={"If-None-Match": "*"})
    assert other.status_code == 401


async def test_if_match_guards_put_patch_and_delete(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, title="original")
    url = f"/api/tasks/{task['id']}"
    ok = await client.patch(url, json={"title": "a"}, headers=auth_headers | {"If-Match": '"1"'})
    assert ok.status_code == 200
    for method, body in (("PATCH", {"title": "b"}), ("PUT", {"title": "b"}), ("DELETE", None)):
        for stale in ('"1"', 'W/"2"', '"x"', "garbage", '"1", "3"'):
            response = await client.request(
                method, url, json=body, headers=auth_headers | {"If-Match": stale}
            )
            assert response.status_code == 412, (method, stale)
            assert response.json()["code"] == "precondition_failed"
            assert "If-Match" in response.json()["detail"]
            assert response.headers["ETag"] == '"2"'
    current = (await client.get(url, headers=auth_headers)).json()
    assert (current["title"], current["version"]) == ("a", 2)
    listed = await client.patch(
        url, json={"title": "c"}, headers=auth_headers | {"If-Match": '"9", "2"'}
    )
    assert listed.status_code == 200
    star = await client.put(url, json={"title": "d"}, headers=auth_headers | {"If-Match": "*"})
    assert (star.status_code, star.json()["version"]) == (200, 4)
    deleted = await client.delete(url, headers=auth_headers | {"If-Match": '"4"'})
    assert deleted.status_code == 204
    gone = await client.patch(url, json={"title": "e"}, headers=auth_headers | {"If-Match": "*"})
    assert gone.status_code == 404


async def test_a_failed_precondition_completes_nothing(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    task = await create(client, auth_headers, due_date="2030-01-01", recurrence="FREQ=DAILY")
    url = f"/api/tasks/{task['id']}"
    response = await client.patch(
        url, json={"completed": True}, headers=auth_headers | {"If-Match": '"5"'}
    )
    assert response.status_code == 412
    assert (await client.get(url, headers=auth_headers)).json() == task
    listed = await client.get("/api/tasks", params={"series_id": task["id"]}, headers=auth_headers)
    assert listed.json() == []


async def test_cors_lets_browsers_send_conditions_and_read_the_etag(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(
        "/api/tasks/x",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "if-match, if-none-match, authorization",
        },
    )
    assert preflight.status_code == 200
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "if-match" in allowed
    assert "if-none-match" in allowed
    response = await client.get("/api/health", headers={"Origin": "http://localhost:3000"})
    assert "etag" in response.headers["Access-Control-Expose-Headers"].lower()
