"""docker-compose.yml is complete: there is no Docker engine here, so the file is parsed.

Checked: the services and their official images, the Dockerfiles they build (and that what
those copy exists), health checks everywhere, env_file, volumes for models and data, nginx in
front of at least two Rasa replicas (its config is also validated with the real nginx), and
that every environment variable used by the compose file, the endpoints files and
credentials.yml is documented in .env.example.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lpse_assist import resilience
from tests.deploy.conftest import require_binaries
from tests.deploy.topology import Topology, find_program, nginx_command

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "docker" / "nginx.conf"
RASA_DOCKERFILE = "docker/rasa.Dockerfile"
ACTIONS_DOCKERFILE = "docker/actions.Dockerfile"
OFFICIAL_IMAGES = {"nginx": "nginx:", "postgres": "postgres:", "redis": "redis:"}
# What the rasa/rasa-sdk image brings (rasa-sdk and its dependencies).
SDK_IMAGE_MODULES = {
    "rasa_sdk",
    "sanic",
    "sanic_cors",
    "coloredlogs",
    "ruamel",
    "typing_extensions",
    "websockets",
    "prompt_toolkit",
    "pluggy",
    "setuptools",
    "pkg_resources",
}
# Distribution that provides an imported module.
MODULE_DISTRIBUTIONS = {
    "yaml": "PyYAML",
    "sqlalchemy": "SQLAlchemy",
    "twilio": "twilio",
    "aiohttp": "aiohttp",
    "psycopg2": "psycopg2-binary",
}
# Variables read by code (not by a config file) that an operator may set.
CODE_VARIABLES = {"ACTION_SERVER_TIMEOUT", "TICKET_LOCK_LIFETIME"}

# ${VAR}, ${VAR:-default}, ${VAR:?error} (compose and Rasa); $$VAR is the container's own.
SUBSTITUTION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?-][^}]*)?\}")
CONTAINER_VARIABLE = re.compile(r"\$\$\{?([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    content = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(content, dict)
    return content


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def built_from(service: dict[str, Any]) -> str:
    build = service.get("build") or {}
    return str(build.get("dockerfile") or "") if isinstance(build, dict) else ""


def rasa_services(services: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(name for name, s in services.items() if built_from(s) == RASA_DOCKERFILE)


def dockerfile_lines(path: str) -> list[str]:
    """Instructions of a Dockerfile, continuation lines joined."""
    text = (ROOT / path).read_text(encoding="utf-8").replace("\\\n", " ")
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def pinned(requirement: str) -> str:
    """The version requirements.txt pins for a package."""
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        match = re.match(
            rf"^{re.escape(requirement)}(?:\[[^\]]*\])?==([^\s#]+)", line.strip(), re.IGNORECASE
        )
        if match:
            return match.group(1)
    raise AssertionError(f"{requirement} is not pinned in requirements.txt")


def strings(node: Any) -> Iterator[str]:
    """Every string (keys too) anywhere in a parsed YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif node is not None:
        yield str(node)


def documented_variables() -> set[str]:
    """Names set in .env.example, commented out or not (``NAME=`` or ``# NAME=``)."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def used_variables(compose: dict[str, Any]) -> set[str]:
    """Variables the compose file, the endpoints files and credentials.yml read."""
    names: set[str] = set()
    for text in strings(compose):
        names |= set(SUBSTITUTION.findall(text)) | set(CONTAINER_VARIABLE.findall(text))
    for service in compose["services"].values():
        environment = service.get("environment") or {}
        if isinstance(environment, dict):
            names |= set(environment)
        else:
            names |= {str(item).split("=", 1)[0] for item in environment}
    for name in (
        "endpoints.yml",
        "endpoints.production.yml",
        "credentials.yml",
        "credentials.production.yml",
    ):
        # Parsed, so that "${VAR}" in a comment does not count.
        parsed = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
        for text in strings(parsed):
            names |= set(SUBSTITUTION.findall(text))
    return names


def test_services_of_the_topology(services: dict[str, dict[str, Any]]) -> None:
    assert {"nginx", "actions", "postgres", "redis"} <= set(services)
    assert len(rasa_services(services)) >= 2


def test_official_images(services: dict[str, dict[str, Any]]) -> None:
    for name, prefix in OFFICIAL_IMAGES.items():
        assert str(services[name]["image"]).startswith(prefix), name
        assert "build" not in services[name], name
    rasa_from = [line for line in dockerfile_lines(RASA_DOCKERFILE) if line.startswith("FROM")]
    assert rasa_from == [f"FROM rasa/rasa:{pinned('rasa')}-full"]
    actions_from = [
        line for line in dockerfile_lines(ACTIONS_DOCKERFILE) if line.startswith("FROM")
    ]
    assert actions_from == [f"FROM rasa/rasa-sdk:{pinned('rasa-sdk')}"]
    assert built_from(services["actions"]) == ACTIONS_DOCKERFILE
    # Each of our images is built from the project root, so the COPY sources below resolve.
    for name in [*rasa_services(services), "actions"]:
        assert services[name]["build"]["context"] == "."


def test_what_the_dockerfiles_copy_exists() -> None:
    for path in (RASA_DOCKERFILE, ACTIONS_DOCKERFILE):
        for line in dockerfile_lines(path):
            if not line.startswith("COPY"):
                continue
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            for source in parts[:-1]:
                if source.startswith("models/"):
                    continue  # made by `make train` before building (docs/deployment.md)
                assert (ROOT / source).exists(), f"{path}: {source}"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv"} <= set(ignored)  # no secret and no virtualenv in an image
    assert "!models/lpse-assist.tar.gz" in ignored


def test_the_images_run_our_configuration() -> None:
    rasa = " ".join(dockerfile_lines(RASA_DOCKERFILE))
    assert "endpoints.production.yml" in rasa and "credentials.yml" in rasa
    assert "models/lpse-assist.tar.gz" in rasa
    assert "RASA_TELEMETRY_ENABLED=false" in rasa
    assert "--enable-api" not in rasa  # only the webhooks are served
    # No REST channel in production: the image serves the production credentials.
    assert '"--credentials", "credentials.production.yml"' in rasa
    actions = " ".join(dockerfile_lines(ACTIONS_DOCKERFILE))
    assert '"--actions", "actions"' in actions


def pip_installs(path: str) -> tuple[list[str], list[str]]:
    """(options, packages) of the `pip install` lines of a Dockerfile."""
    options: list[str] = []
    packages: list[str] = []
    for line in dockerfile_lines(path):
        if line.startswith("RUN") and "pip install" in line:
            words = line.split("pip install", 1)[1].split()
            skip_next = False
            for word in words:
                if skip_next:
                    options.append(word)
                    skip_next = False
                elif word in ("-c", "-r"):
                    options.append(word)
                    skip_next = True
                elif word.startswith("-"):
                    options.append(word)
                else:
                    packages.append(word)
    return options, packages


def third_party_imports(start: Path) -> set[str]:
    """Top-level modules outside the standard library imported by the modules in ``start``
    and, transitively, by the ``actions``/``lpse_assist`` modules they import (also the ones
    imported inside functions)."""
    found: set[str] = set()
    seen: set[Path] = set()
    queue = sorted(start.glob("*.py"))
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ("actions", "lpse_assist"):
                    base = ROOT.joinpath(*name.split("."))
                    queue += [
                        p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()
                    ]
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


def test_the_actions_image_installs_what_the_actions_import() -> None:
    options, packages = pip_installs(ACTIONS_DOCKERFILE)
    assert options[options.index("-c") + 1] == "requirements.lock"  # the project's versions
    locked = {
        line.split("==")[0].strip().lower()
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if "==" in line
    }
    assert all(package.lower() in locked for package in packages), packages
    installed = {package.lower() for package in packages}
    imports = third_party_imports(ROOT / "actions")
    assert "rasa_sdk" in imports  # the scanner works
    for module in sorted(imports - SDK_IMAGE_MODULES):
        assert module in MODULE_DISTRIBUTIONS, (
            f"actions import {module}: add it to {ACTIONS_DOCKERFILE} and MODULE_DISTRIBUTIONS"
        )
        assert MODULE_DISTRIBUTIONS[module].lower() in installed, module
    if "sqlalchemy" in imports:
        assert "psycopg2-binary" in installed  # tickets live in PostgreSQL in production


def test_every_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test"), name
        assert not check.get("disable"), name
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_every_dependency_exists_and_waits_for_health(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, (name, dependency)
            if condition.get("condition") == "service_healthy":
                assert services[dependency].get("healthcheck"), (name, dependency)
    for name in rasa_services(services):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_env_file_and_volumes(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert service.get("env_file") in (".env", [".env"]), name
    for name in rasa_services(services):
        assert "./models:/app/models:ro" in services[name]["volumes"], name
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "postgres-data" in compose["volumes"]
    assert "./docker/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]


def test_rasa_replicas_use_the_production_stores(services: dict[str, dict[str, Any]]) -> None:
    endpoints = yaml.safe_load((ROOT / "endpoints.production.yml").read_text(encoding="utf-8"))
    assert endpoints["tracker_store"]["type"] == "SQL"
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert endpoints["lock_store"]["type"] == "lpse_assist.lock_store.AtomicRedisLockStore"
    assert endpoints["nlg"]["type"] == f"{resilience.__name__}.ResilientNLG"
    for name in rasa_services(services):
        environment = services[name]["environment"]
        assert environment["POSTGRES_HOST"] == "postgres"
        assert environment["REDIS_HOST"] == "redis"
        assert environment["ACTION_ENDPOINT_URL"] == "http://actions:5055/webhook"


def test_replicas_and_the_test_topology_run_tensorflow_on_one_thread_each(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """The serving setting of docker-compose.yml is the one the benchmark's topology uses."""
    names = ("TF_INTER_OP_PARALLELISM_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS")
    for name in rasa_services(services):
        environment = services[name]["environment"]
        for variable in names:
            assert environment[variable] == f"${{{variable}:-1}}"
    topology = Topology(tmp_path, replicas=1, with_stores=False)
    env = topology.env()
    assert all(topology.env_of(topology.rasa[0], env)[variable] == "1" for variable in names)
    # The action server runs no model: without them it never imports TensorFlow.
    assert not set(names) & set(topology.env_of(topology.actions, env))
    assert not set(names) & set(services["actions"].get("environment") or {})
    run_sh = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    assert all(f'{variable}="${{{variable}:-1}}"' in run_sh for variable in names)


def test_nginx_balances_over_every_rasa_replica(services: dict[str, dict[str, Any]]) -> None:
    config = NGINX_CONF.read_text(encoding="utf-8")
    upstream = re.search(r"upstream\s+rasa\s*\{(.*?)\}", config, re.DOTALL)
    assert upstream, "no upstream rasa block"
    servers = re.findall(r"^\s*server\s+([\w.-]+):5005\b", upstream.group(1), re.MULTILINE)
    assert sorted(servers) == rasa_services(services)
    assert "proxy_pass http://rasa;" in config
    # Only Twilio's two routes and the helpdesk console (behind its login): the REST channel
    # and Rasa's API stay inside.
    locations = re.findall(r"^\s*location\s+([^{]+?)\s*\{", config, re.MULTILINE)
    assert locations == [
        "= /healthz",
        "~ ^/webhooks/twilio/(webhook|status)$",
        "= /console",
        "/console/",
        "/",
    ]
    depends = services["nginx"]["depends_on"]
    assert all(depends[name]["condition"] == "service_healthy" for name in rasa_services(services))


def test_every_environment_variable_is_documented(compose: dict[str, Any]) -> None:
    used = used_variables(compose) | CODE_VARIABLES
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "TWILIO_AUTH_TOKEN"} <= used  # scanner works
    missing = sorted(used - documented_variables())
    assert missing == [], f"not documented in .env.example: {missing}"


def test_nginx_accepts_the_configuration() -> None:
    require_binaries(extra=("nginx",))
    nginx = find_program("nginx")
    assert nginx is not None
    workdir = Path(tempfile.mkdtemp(prefix="lpse-nginx-"))
    try:
        # The replica names resolve only inside compose's network: point them at loopback.
        config = re.sub(
            r"server\s+rasa-\d+:5005",
            "server 127.0.0.1:5005",
            NGINX_CONF.read_text(encoding="utf-8"),
        )
        (workdir / "nginx.conf").write_text(config, encoding="utf-8")
        result = subprocess.run(
            [*nginx_command(nginx, workdir, ""), "-t"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
