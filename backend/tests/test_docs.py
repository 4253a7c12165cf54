"""/docs in a real browser with no internet access: Swagger UI's script and stylesheet come from
the service itself, the operations render, and Authorize and "Try it out" work."""

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.support.browser import dump_dom, open_page
from tests.support.server import Server, free_port, running_server, server_env


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module (server_env isolates it from the developer's settings)."""
    folder = tmp_path_factory.mktemp("docs")
    env = server_env(f"sqlite:///{folder / 'todo.db'}", free_port())
    with running_server(env, folder / "server.log") as server:
        yield server


def test_docs_render_the_operations_with_no_internet_access(server: Server, tmp_path: Path) -> None:
    dom = dump_dom(f"{server.base_url}/docs", tmp_path / "profile")
    create_task = re.compile(r'opblock-summary-method">POST</span>.{0,200}data-path="/api/tasks"')
    assert create_task.search(dom), dom[:3000]
    assert 'data-path="/api/health"' in dom
    assert re.search(r'class="btn authorize[^"]*"><span>Authorize</span>', dom)


# Authorize with the token, then "Try it out" and "Execute" on GET /api/auth/me, as a person
# would; answers the response's status and body as Swagger UI shows them.
AUTHORIZE_AND_TRY_IT_OUT = """
(async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const find = async (selector) => {
    for (let i = 0; i < 200; i++) {
      const found = document.querySelector(selector);
      if (found) return found;
      await sleep(100);
    }
    throw new Error("not on the page: " + selector);
  };
  const type = (input, text) => {
    const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    setValue.call(input, text);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  };
  (await find(".btn.authorize")).click();
  type(await find(".modal-ux input"), TOKEN);
  (await find(".modal-ux .auth-btn-wrapper .btn.modal-btn.auth.authorize")).click();
  (await find(".modal-ux .btn-done")).click();
  const me = '[id^="operations-auth-me_"]';
  (await find(me + " .opblock-summary-control")).click();
  (await find(me + " .try-out__btn")).click();
  (await find(me + " .execute")).click();
  const row = me + " .live-responses-table tbody .response";
  return {
    status: (await find(row + " .response-col_status")).textContent.trim(),
    body: (await find(row + " .response-col_description pre")).textContent,
  };
})()
"""


def test_authorize_and_try_it_out_work_with_no_internet_access(
    server: Server, tmp_path: Path
) -> None:
    registered = httpx.post(
        f"{server.base_url}/api/auth/register",
        json={"email": "docs@example.com", "name": "Docs Reader", "password": PASSWORD},
    )
    token = registered.json()["access_token"]
    with open_page(f"{server.base_url}/docs", tmp_path / "profile") as page:
        shown = page.evaluate(AUTHORIZE_AND_TRY_IT_OUT.replace("TOKEN", repr(token)))
    assert shown["status"] == "200", shown
    assert '"email": "docs@example.com"' in shown["body"]
