"""deploy/: the Dockerfile, the compose file and the systemd unit, checked by their linters and against each other.

No image is built here (base images cannot be pulled where these tests run); the Dockerfile's health check is
run for real against a server, and the compose topology is the one tests/e2e/test_nginx.py runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import StartServer
from tests.services import IN_CI, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def tool(name: str, installed_by: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{name} is missing on CI ({installed_by} installs it)")
    pytest.skip(f"{name} is missing ({installed_by} installs it)")


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint", "the dev extras"), "deploy/Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_the_server_as_a_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.MULTILINE)
    assert users, "no USER: the server would run as root"
    assert users[-1].split(":")[0] not in ("0", "root")
    command = json.loads(re.findall(r"^CMD (.+)$", DOCKERFILE, re.MULTILINE)[-1])
    assert command == ["seat-server"]
    assert "seat-server" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def healthcheck() -> list[str]:
    found = re.search(r"^HEALTHCHECK .*?\\\n\s+CMD (\[.+\])$", DOCKERFILE, re.MULTILINE)
    assert found is not None
    command: list[str] = json.loads(found[1])
    return command


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_image_health_check_asks_readyz(start_server: StartServer) -> None:
    running = await start_server()
    python, *arguments = healthcheck()
    assert python == "python"

    async def check(port: int) -> int:
        env = os.environ | {"HTTP_PORT": str(port)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, *arguments, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        return await asyncio.wait_for(process.wait(), 30)

    assert await check(running.server.http_port) == 0
    assert await check(free_port()) != 0  # nothing listening: unhealthy


def test_the_systemd_unit_verifies_and_is_hardened(tmp_path: Path) -> None:
    unit = (DEPLOY / "seat-server.service").read_text()
    # Point ExecStart at this checkout's command, since verify checks that it exists.
    rendered, count = re.subn(
        r"^ExecStart=\S+", f"ExecStart={Path(sys.executable).parent / 'seat-server'}", unit, flags=re.M
    )
    assert count == 1
    (tmp_path / "seat-server.service").write_text(rendered)
    result = subprocess.run(
        [tool("systemd-analyze", "scripts/bootstrap"), "verify", "seat-server.service"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # An unknown or misspelt directive is only a warning: any output at all fails.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    for directive in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet="):
        assert re.search(rf"^{re.escape(directive)}$", unit, re.MULTILINE), directive


def test_compose_runs_two_instances_behind_the_tested_nginx_config() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "seats-1", "seats-2", "nginx"}
    upstreams = set(re.findall(r"server (seats-\d):\d+;", (DEPLOY / "nginx.conf").read_text()))
    assert upstreams == {"seats-1", "seats-2"}
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    for name in upstreams:
        environment = services[name]["environment"]
        assert environment["TRUSTED_PROXIES"] == subnet  # nginx's address, as the instances see it
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
