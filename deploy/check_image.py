"""Check a built image from outside, as an operator would: it runs as a numeric non-root user,
migrates with `python -m app migrate`, serves (ready, live, register + create a task, /metrics)
and drains on SIGTERM (ready turns 503, the request in flight finishes, the process exits 0
within GRACEFUL_SHUTDOWN_SECONDS). Any failed check exits 1.

`podman run` cannot start containers on the CI machine (setting rlimits is refused), so the image
runs with `buildah run --isolation=chroot`: its own command, user and environment (read from
`podman image inspect`) in its own root filesystem, on the host's network. buildah does not pass
SIGTERM on (it kills its child), so the drain check signals the server process itself.

Usage: python deploy/check_image.py IMAGE DATABASE_URL   (run by deploy/ci-image.sh)
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

# Registration hashes at this cost for about half a second on a quiet machine: long enough to be
# in flight at SIGTERM, short enough to finish within the timeout on an overloaded one (cost 14
# once took 20 s at load 30 on 2 cores, and was rightly cut).
SLOW_BCRYPT_ROUNDS = "13"
IN_FLIGHT_AFTER_SECONDS = 0.2
# Beyond the graceful timeout: the time a loaded CI machine may take to stop the workers.
EXIT_MARGIN_SECONDS = 10
# Workers import in seconds on a quiet machine, in minutes on an overloaded one.
START_TIMEOUT_SECONDS = 180

failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
    if not ok:
        failures.append(what)


def image_config(image: str) -> dict[str, object]:
    """The image's Config, with its HEALTHCHECK (podman reports it beside the Config)."""
    out = subprocess.run(
        ["podman", "image", "inspect", image], check=True, capture_output=True, text=True
    ).stdout
    inspected = json.loads(out)[0]
    config: dict[str, object] = inspected["Config"]
    config.setdefault("Healthcheck", inspected.get("Healthcheck"))
    return config


def image_env(config: dict[str, object]) -> dict[str, str]:
    items = config.get("Env") or []
    assert isinstance(items, list)
    return dict(str(item).split("=", 1) for item in items)


def check_config(config: dict[str, object]) -> str:
    """The image's USER, which every later step runs as."""
    user = str(config.get("User") or "")
    uid, _, gid = user.partition(":")
    check(uid.isdigit() and (not gid or gid.isdigit()), f"USER is numeric ({user!r})")
    check(uid.isdigit() and int(uid) != 0, f"USER is not root ({user!r})")
    check(bool(config.get("Healthcheck")), "the image has a HEALTHCHECK")
    exposed = dict(config.get("ExposedPorts") or {})  # type: ignore[call-overload]
    env = image_env(config)
    check(f"{env.get('PORT')}/tcp" in exposed, f"EXPOSE matches PORT={env.get('PORT')}")
    check("WORKERS" in env and "GRACEFUL_SHUTDOWN_SECONDS" in env, "WORKERS and the timeout set")
    return user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def buildah_run(container: str, user: str, env: dict[str, str], command: list[str]) -> list[str]:
    options = [f"--env={name}={value}" for name, value in env.items()]
    return [
        "buildah", "run", "--isolation=chroot", "--network=host", f"--user={user}",
        *options, container, "--", *command,
    ]  # fmt: skip


@contextmanager
def working_container(image: str) -> Iterator[str]:
    name = f"todo-image-check-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["buildah", "from", "--pull-never", f"--name={name}", image],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield name
    finally:
        subprocess.run(["buildah", "rm", name], check=False, stdout=subprocess.DEVNULL)


def process_tree(root: int) -> list[int]:
    """root's descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().rstrip("\0").split("\0")
    except OSError:
        return []


def is_python(pid: int) -> bool:
    """The server's processes (the master and its workers), not buildah's runtime around them."""
    return "python" in Path(cmdline(pid)[0] or "-").name if cmdline(pid) else False


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # the real uid; effective and saved follow
    raise LookupError(pid)


def wait_ready(base_url: str, server: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base_url}/api/health/ready", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    return False


def register(base_url: str) -> httpx.Response:
    body = {"email": f"{uuid.uuid4().hex}@example.com", "name": "Image", "password": "x" * 12}
    return httpx.post(f"{base_url}/api/auth/register", json=body, timeout=60)


def check_serving(base_url: str) -> None:
    check(httpx.get(f"{base_url}/api/health/live").status_code == 200, "/api/health/live is 200")
    registered = register(base_url)
    check(registered.status_code == 201, f"register is 201 ({registered.status_code})")
    if registered.status_code != 201:
        return
    auth = {"Authorization": f"Bearer {registered.json()['access_token']}"}
    created = httpx.post(f"{base_url}/api/tasks", json={"title": "From the image"}, headers=auth)
    check(created.status_code == 201, f"create task is 201 ({created.status_code})")
    listed = httpx.get(f"{base_url}/api/tasks", headers=auth)
    titles = [task["title"] for task in listed.json()]
    check(titles == ["From the image"], f"the task is listed ({titles})")

    metrics = httpx.get(f"{base_url}/metrics")
    check(metrics.status_code == 200, f"/metrics is 200 ({metrics.status_code})")
    if metrics.status_code != 200:
        return
    try:  # the backend's own parser, from its locked environment
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        check(False, "prometheus_client is in the backend's environment to parse /metrics")
        return
    try:
        families = list(text_string_to_metric_families(metrics.text))
    except ValueError as exc:
        check(False, f"/metrics parses as Prometheus text ({exc})")
        return
    counted = sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "http_server_request_duration_seconds_count"
        and sample.labels.get("http_request_method") == "POST"
        and sample.labels.get("http_route") == "/api/tasks"
    )
    # Summed over the workers: whichever one served the request, it is counted once.
    check(counted == 1, f"/metrics counts the one POST /api/tasks ({counted})")


def check_drain(
    base_url: str, server: subprocess.Popen[bytes], master: int, timeout: float
) -> None:
    """SIGTERM while a request is in flight; `timeout` is the image's GRACEFUL_SHUTDOWN_SECONDS."""
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(register, base_url)
        time.sleep(IN_FLIGHT_AFTER_SECONDS)  # the request is being handled: it is hashing
        check(not in_flight.done(), "a slow request is in flight at SIGTERM")
        sent_at = time.monotonic()
        os.kill(master, signal.SIGTERM)
        ready_codes: list[int | str] = []
        # Ask at least once, and as long as the request is in flight.
        while (not in_flight.done() or not ready_codes) and time.monotonic() - sent_at < timeout:
            try:
                ready_codes.append(httpx.get(f"{base_url}/api/health/ready", timeout=2).status_code)
            except httpx.TransportError as exc:
                ready_codes.append(type(exc).__name__)
            time.sleep(0.1)
        response = in_flight.result()
    seen = sorted(set(map(str, ready_codes)))
    check(503 in ready_codes, f"ready turns 503 during the drain (saw {seen})")
    check(response.status_code == 201, f"the request in flight finishes ({response.status_code})")
    try:
        exit_code = server.wait(timeout=timeout + EXIT_MARGIN_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        exit_code = None
    took = time.monotonic() - sent_at
    check(exit_code == 0, f"the server exits 0 after SIGTERM ({exit_code}, {took:.1f} s)")
    check(took < timeout + EXIT_MARGIN_SECONDS, f"it exits within the timeout ({timeout} s)")


def main() -> None:
    image, database_url = sys.argv[1], sys.argv[2]
    config = image_config(image)
    print(f"image {image}: user {config.get('User')!r}, command {config.get('Cmd')}")
    user = check_config(config)
    command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]  # type: ignore[misc]
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "PORT": str(port),
        "BCRYPT_ROUNDS": SLOW_BCRYPT_ROUNDS,
    }
    base_url = f"http://127.0.0.1:{port}"
    with working_container(image) as container:
        migrated = subprocess.run(
            buildah_run(container, user, env, ["python", "-m", "app", "migrate"]),
            check=False,
            capture_output=True,
            text=True,
        )
        check(migrated.returncode == 0, "python -m app migrate succeeds in the image")
        if migrated.returncode != 0:
            print(migrated.stdout[-2000:], migrated.stderr[-2000:])
        log = Path(os.environ.get("IMAGE_CHECK_LOG", "/tmp/todo-image-check.log"))
        with log.open("wb") as out:
            server = subprocess.Popen(
                buildah_run(container, user, env, command), stdout=out, stderr=subprocess.STDOUT
            )
            try:
                ready = wait_ready(base_url, server)
                check(ready, f"/api/health/ready is 200 within {START_TIMEOUT_SECONDS} s")
                pythons = [pid for pid in process_tree(server.pid) if is_python(pid)]
                # buildah resolves the command on PATH: argv[0] is python's full path there.
                servers = [pid for pid in pythons if cmdline(pid)[1:] == command[1:]]
                check(len(servers) == 1, f"one process runs the image's command ({servers})")
                uids = sorted({uid_of(pid) for pid in pythons})
                check(bool(uids) and 0 not in uids, f"no server process runs as root ({uids})")
                if ready and len(servers) == 1:
                    check_serving(base_url)
                    timeout = float(image_env(config).get("GRACEFUL_SHUTDOWN_SECONDS", "20"))
                    check_drain(base_url, server, servers[0], timeout)
            finally:
                if server.poll() is None:
                    # Killing buildah alone would orphan the server inside: kill it first.
                    for pid in process_tree(server.pid):
                        if is_python(pid):
                            os.kill(pid, signal.SIGKILL)
                    server.kill()
                    server.wait()
        if failures:
            print(f"--- the server's log ({log}):\n{log.read_text(errors='replace')[-4000:]}")
    print(f"{len(failures)} image check(s) failed" if failures else "all image checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
