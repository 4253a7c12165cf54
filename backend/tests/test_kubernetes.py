"""deploy/kubernetes, checked against the service it deploys. CI validates the rendered manifests
against Kubernetes' schemas (deploy/ci-image.sh); this checks what a schema cannot: the probes ask
the right endpoints, the pod runs as the image's user, every variable is one the settings read,
secrets are only referenced, and the kubelet waits long enough for the drain."""

import re
from typing import Any

import yaml

from app.core.config import REPO_DIR, Settings

KUBERNETES = REPO_DIR / "deploy" / "kubernetes"
KUSTOMIZATION = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())


def manifest(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((KUBERNETES / name).read_text())
    return document


def config_map() -> dict[str, str]:
    (generator,) = KUSTOMIZATION["configMapGenerator"]
    return dict(literal.split("=", 1) for literal in generator["literals"])


def image_uid() -> int:
    match = re.search(r"^ARG APP_UID=(\d+)$", (REPO_DIR / "Containerfile").read_text(), re.M)
    assert match
    return int(match.group(1))


DEPLOYMENT = manifest("deployment.yaml")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(API,) = POD["containers"]
JOB_POD = manifest("migrate-job.yaml")["spec"]["template"]["spec"]
(MIGRATE,) = JOB_POD["containers"]


def test_every_resource_of_the_issue_is_listed() -> None:
    kinds = {manifest(name)["kind"] for name in KUSTOMIZATION["resources"]}
    assert kinds == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Job",
    }


def test_probes_ask_live_for_liveness_and_startup_and_ready_for_readiness() -> None:
    assert API["startupProbe"]["httpGet"]["path"] == "/api/health/live"
    assert API["livenessProbe"]["httpGet"]["path"] == "/api/health/live"
    assert API["readinessProbe"]["httpGet"]["path"] == "/api/health/ready"
    (port,) = API["ports"]
    assert port["containerPort"] == Settings(_env_file=None).port  # the image's PORT, 8000


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root() -> None:
    for pod, container in ((POD, API), (JOB_POD, MIGRATE)):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == image_uid() != 0
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]["memory"]


def test_the_kubelet_waits_for_pre_stop_and_the_whole_graceful_shutdown() -> None:
    pre_stop = API["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    graceful = int(config_map()["GRACEFUL_SHUTDOWN_SECONDS"])
    assert int(config_map()["SHUTDOWN_DRAIN_SECONDS"]) < graceful
    assert POD["terminationGracePeriodSeconds"] > int(pre_stop[1]) + graceful


def test_every_variable_is_a_setting_and_the_configuration_is_valid_in_production() -> None:
    env = config_map()
    for container in (API, MIGRATE):
        names = set(env) | {variable["name"] for variable in container["env"]}
        unknown = {name for name in names if name.lower() not in Settings.model_fields}
        assert not unknown, f"the settings read no such variable: {unknown}"
    values = {name.lower(): value for name, value in env.items()}
    settings = Settings(**values, jwt_secret="k" * 48, _env_file=None)  # type: ignore[arg-type]
    assert settings.is_production
    assert not settings.migrate_on_start  # the Job migrates, once, not every replica
    assert MIGRATE["command"] == ["python", "-m", "app", "migrate"]


def test_secrets_are_only_referenced_and_migrations_use_the_direct_url() -> None:
    for name in KUSTOMIZATION["resources"]:
        assert manifest(name)["kind"] != "Secret"
    assert "secretGenerator" not in KUSTOMIZATION
    for container in (API, MIGRATE):
        for variable in container["env"]:
            assert set(variable) == {"name", "valueFrom"}, variable["name"]
            assert variable["valueFrom"]["secretKeyRef"]["name"] == "todo-api"
    keys = {v["name"]: v["valueFrom"]["secretKeyRef"]["key"] for v in MIGRATE["env"]}
    assert keys["DATABASE_URL"] == "DATABASE_URL_DIRECT"
    keys = {v["name"]: v["valueFrom"]["secretKeyRef"]["key"] for v in API["env"]}
    assert keys["DATABASE_URL"] == "DATABASE_URL"
