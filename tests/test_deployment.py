"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead:
the services an operator needs, pinned images, mounts that exist, health checks, an init step,
and every secret it asks for named in .env.example and absent from the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = ["airflow-db", "warehouse", "airflow-api-server", "airflow-scheduler",
                "airflow-dag-processor", "airflow-triggerer", "redis", "airflow-worker-1", "airflow-worker-2",
                "flower"]


def test_the_services_an_operator_needs():
    assert set(LONG_RUNNING) | {"airflow-init"} <= set(SERVICES)
    commands = {name: SERVICES[name].get("command") for name in SERVICES}
    assert commands["airflow-api-server"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"  # LocalExecutor by default
    assert "airflow-db" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # psycopg 3 is the driver in the lock: both metadata URLs use it (no psycopg2, no asyncpg)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg_async://")
    # the warehouse is a separate PostgreSQL from Airflow's metadata database
    assert "warehouse:5432" in env["AIRFLOW_CONN_ALLIANCE_WAREHOUSE"]


def test_celery_profile_adds_the_broker_and_two_workers():
    """`docker compose --profile celery up` (AIRFLOW_EXECUTOR=CeleryExecutor) scales out; without the
    profile none of it starts, and the executor the workers need is in the locked set."""
    assert SERVICES["redis"]["profiles"] == ["celery"]
    workers = [name for name, service in SERVICES.items() if service.get("command") == "celery worker"]
    assert len(workers) == 2
    for name in workers:
        service = SERVICES[name]
        assert service["profiles"] == ["celery"]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["healthcheck"]["test"], name
        assert service["environment"]["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert SERVICES["flower"]["profiles"] == ["flower"]
    lock = (ROOT / "requirements.lock").read_text()
    for package in ["apache-airflow-providers-celery", "celery", "kombu", "redis"]:
        assert re.search(rf"^{package}==\S+$", lock, re.M), f"{package} is not pinned in requirements.lock"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name):
    image = SERVICES[name].get("image")
    assert image, f"{name} has no image"
    assert re.search(r":\d+(\.\d+)+", image), f"{name}: image {image} is not pinned to a version"
    assert not image.endswith(":latest")


def test_airflow_image_is_airflow_3_3_with_the_locked_dependencies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11$", dockerfile, re.M)
    assert "requirements.lock" in dockerfile
    lock = (ROOT / "requirements.lock").read_text()
    airflow_pin = re.search(r"^apache-airflow==(\S+)$", lock, re.M).group(1)
    assert f"apache/airflow:{airflow_pin}-" in dockerfile, "the image and the lock file pin different Airflow versions"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_health_checks(name):
    check = SERVICES[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no health check"


def test_init_step_runs_before_airflow_starts():
    init = SERVICES["airflow-init"]
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert "airflow db migrate" in script
    assert "alliance_finance.warehouse.migrate" in script
    for name in ["airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]:
        assert SERVICES[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_mounted_project_folders_exist():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).is_dir(), f"{name} mounts {source}, which is not in the repository"
    mounted = {v.split(":")[1] for v in SERVICES["airflow-scheduler"]["volumes"] if v.startswith("./")}
    assert {"/opt/alliance/dags", "/opt/alliance/plugins", "/opt/alliance/expectations", "/opt/alliance/sql"} <= mounted


def test_every_secret_comes_from_env_and_none_is_committed():
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = (ROOT / ".env.example").read_text()
    declared = set(re.findall(r"^(\w+)=", example, re.M))
    assert required <= declared, f".env.example lacks {sorted(required - declared)}"
    for key in required:
        value = re.search(rf"^{key}=(.*)$", example, re.M).group(1)
        assert value == "", f".env.example must not carry a value for the secret {key}"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text().split()
