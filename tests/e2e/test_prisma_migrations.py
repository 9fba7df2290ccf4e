"""The checked-in Prisma migrations match schema.prisma, Prisma agrees with what the server applies, and the
developer's workflow (docs/prisma.md) works offline: migrate dev, the PostgreSQL twin, migrate status, Studio.

These run the pinned Prisma CLI (node_modules, from `npm ci`) and, for PostgreSQL, psql and pg_dump. With
CI=true a missing tool or server fails the test; elsewhere the test is skipped, saying why. Tests that add a
migration work in a copy of the Prisma files, so the repository's histories are never changed.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData

ROOT = Path(__file__).resolve().parents[2]
PRISMA_CLI = ROOT / "node_modules" / ".bin" / "prisma"
POSTGRES_URL = os.environ.get("PRISMA_CHECK_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
UP_TO_DATE = "Database schema is up to date!"  # what `prisma migrate status` prints, exit code 0


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI requires it", pytrace=False)
    pytest.skip(reason)


def require_prisma() -> None:
    if not PRISMA_CLI.exists():
        unavailable("node_modules/.bin/prisma is missing: run `npm ci`")


def require_postgres() -> None:
    if not (shutil.which("psql") and shutil.which("pg_dump")):
        unavailable("psql and pg_dump are needed to check the PostgreSQL migrations")
    env = os.environ | {"PGCONNECT_TIMEOUT": "5"}
    probe = subprocess.run(["psql", POSTGRES_URL, "-qXAtc", "SELECT 1"], capture_output=True, text=True, env=env)
    if probe.returncode != 0:
        unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {probe.stderr.strip()}")


def prisma(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return prisma_in(ROOT, *args, database_url=f"file:{database}")


def prisma_in(project: Path, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """scripts/prisma of `project`; without database_url it finds the database as the server does."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [project / "scripts" / "prisma", *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository holding a copy of the Prisma files (schema, histories, config, scripts)."""
    require_prisma()
    project = tmp_path / "project"
    project.mkdir()
    for folder in ("prisma", "scripts", "server"):  # server: migrate dev rewrites its tables.py
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "prisma.config.ts", project)
    for shared in ("node_modules", ".venv"):
        (project / shared).symlink_to(ROOT / shared)
    for git in (["init", "-q"], ["add", "prisma", "scripts", "prisma.config.ts"], ["commit", "-qm", "copy"]):
        identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
        subprocess.run(["git", *identity, *git], cwd=project, check=True, capture_output=True)
    return project


def migration_names(folder: Path) -> list[str]:
    return sorted(path.parent.name for path in folder.glob("*/migration.sql"))


async def migrate_with_server(database: Path) -> list[str]:
    from server.storage.database import create_engine
    from server.storage.migrations import apply_migrations

    engine = create_engine(f"sqlite:///{database}")
    try:
        return await apply_migrations(engine)
    finally:
        await engine.dispose()


def bookkeeping(database: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The schema and the `_prisma_migrations` rows, with the id and the instants reduced to their formats."""

    def shape(instant: object) -> object:
        return re.sub(r"\d", "0", instant) if isinstance(instant, str) else instant

    with closing(sqlite3.connect(database)) as db:
        schema = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name").fetchall()
        rows = db.execute(
            "SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count"
            " FROM _prisma_migrations ORDER BY migration_name"
        ).fetchall()
    return schema, [
        (
            f"uuid v{uuid.UUID(id_).version}",
            checksum,
            shape(finished),
            name,
            logs,
            shape(rolled_back),
            shape(started),
            steps,
        )
        for id_, checksum, finished, name, logs, rolled_back, started, steps in rows
    ]


def test_checked_in_migrations_match_schema() -> None:
    require_prisma()
    require_postgres()
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "prisma_migrations.py", "check"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_prisma_sees_server_migrations_as_up_to_date(tmp_path: Path) -> None:
    require_prisma()
    database = tmp_path / "server.db"
    applied = await migrate_with_server(database)
    assert applied == sorted(path.parent.name for path in (ROOT / "prisma" / "migrations").glob("*/migration.sql"))
    status = prisma(database, "migrate", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert UP_TO_DATE in status.stdout


async def test_server_writes_the_rows_prisma_migrate_deploy_writes(tmp_path: Path) -> None:
    """`migrate status` reads neither checksums nor timestamps, but `migrate dev` and Prisma's ordering do."""
    require_prisma()
    await migrate_with_server(tmp_path / "server.db")
    deploy = prisma(tmp_path / "prisma.db", "migrate", "deploy")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert bookkeeping(tmp_path / "server.db") == bookkeeping(tmp_path / "prisma.db")


# Every construct scripts/generate_tables.py maps, each where it differs from the seat schema's use of it.
EVERY_CONSTRUCT = """datasource db {
  provider = "sqlite"
  url      = env("DATABASE_URL")
}

/// A model with a self-relation.
model Kind {
  id       Int       @id @map("kind_id")
  label    String    @unique
  ratio    Float     @default(1.5)
  active   Boolean   @default(true)
  seen     DateTime  @default(now())
  maybe    DateTime?
  big      BigInt?   @default(-3)
  note     String?   @default("it's \\"quoted\\"")
  parentId Int?      @map("parent_id")
  parent   Kind?     @relation("tree", fields: [parentId], references: [id], onDelete: Cascade)
  children Kind[]    @relation("tree")
  parts    Part[]
  profile  Profile?

  @@unique([ratio, active], map: "kind_ratio_active")
  @@index([seen])
  @@map("kind")
}

model Part {
  a      String
  b      Int
  kindId Int    @map("kind_id")
  kind   Kind   @relation(fields: [kindId], references: [id], onUpdate: NoAction)

  @@id([b, a])
  @@index([b, a], map: "part_b_a")
}

model Profile {
  id     String @id @default("me")
  kindId Int?   @unique
  kind   Kind?  @relation(fields: [kindId], references: [id])
}
"""


def generated_metadata(schema: Path) -> MetaData:
    """The ``metadata`` of the tables module scripts/generate_tables.py writes from ``schema``."""
    generated = subprocess.run(
        [sys.executable, ROOT / "scripts" / "generate_tables.py", "--schema", schema, "--output", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    module: dict[str, Any] = {}
    exec(generated.stdout, module)
    metadata: MetaData = module["metadata"]
    return metadata


@pytest.mark.parametrize("provider", ["sqlite", "postgresql"])
async def test_generated_tables_match_what_prisma_creates_from_every_construct(provider: str, tmp_path: Path) -> None:
    from server.storage.database import create_engine
    from server.storage.migrations import apply_migrations
    from tests.schema_diff import schema_differences
    from tests.services import create_database, drop_database

    require_prisma()
    schema = tmp_path / "schema.prisma"
    schema.write_text(EVERY_CONSTRUCT.replace('"sqlite"', f'"{provider}"', 1))
    script = tmp_path / "history" / "20990101000000_every_construct" / "migration.sql"
    script.parent.mkdir(parents=True)
    diff = prisma(
        tmp_path / "unused.db",
        "migrate",
        "diff",
        "--from-empty",
        "--to-schema-datamodel",
        str(schema),
        "--script",
        "--output",
        str(script),
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr
    metadata = generated_metadata(schema)
    url = f"sqlite:///{tmp_path / 'every.db'}" if provider == "sqlite" else await create_database("seats_every")
    engine = create_engine(url)
    try:
        assert await apply_migrations(engine, script.parent.parent) == [script.parent.name]
        assert await schema_differences(engine, metadata) == []
    finally:
        await engine.dispose()
        if provider == "postgresql":
            await drop_database(url)


def test_migrate_dev_writes_applies_and_twins_a_migration(project: Path) -> None:
    require_postgres()
    schema = project / "prisma" / "schema.prisma"
    email = 'customerEmail    String              @map("customer_email")\n'
    assert email in schema.read_text()
    schema.write_text(
        schema.read_text().replace(email, f'{email}  customerLocale   String?             @map("customer_locale")\n')
    )
    (project / ".env").write_text("DATABASE_URL=sqlite:///./dev.db\n")  # the server's spelling, from its .env
    sqlite_before = migration_names(project / "prisma" / "migrations")

    done = prisma_in(project, "migrate", "dev", "--name", "add_locale")

    assert done.returncode == 0, done.stdout + done.stderr
    sqlite_after = migration_names(project / "prisma" / "migrations")
    [added] = set(sqlite_after) - set(sqlite_before)
    assert added.endswith("_add_locale")
    assert migration_names(project / "prisma" / "postgresql" / "migrations") == sqlite_after
    for history in ("migrations", "postgresql/migrations"):
        script = (project / "prisma" / history / added / "migration.sql").read_text()
        assert re.search(r'ALTER TABLE "booking" ADD COLUMN\s+"customer_locale" TEXT;', script), script
    tables = (project / "server" / "storage" / "tables.py").read_text()
    assert 'Column("customer_locale"' in tables, "the runtime's tables follow the schema"
    with closing(sqlite3.connect(project / "dev.db")) as db:
        assert "customer_locale" in [row[1] for row in db.execute("PRAGMA table_info(booking)")]
        applied = db.execute("SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL")
        assert sorted(row[0] for row in applied) == sqlite_after
    check = subprocess.run(
        [sys.executable, project / "scripts" / "prisma_migrations.py", "check"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    ("env_file", "database"), [(None, "seats.db"), ("DATABASE_URL=sqlite:///./from-env.db\n", "from-env.db")]
)
async def test_prisma_reads_the_servers_database_setting(project: Path, env_file: str | None, database: str) -> None:
    """No DATABASE_URL: the server's default database; a .env with the server's sqlite:/// form: that one."""
    if env_file is not None:
        (project / ".env").write_text(env_file)
    await migrate_with_server(project / database)
    status = prisma_in(project, "migrate", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f'SQLite database "{database}"' in status.stdout
    assert UP_TO_DATE in status.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`scripts/prisma studio` on a migrated SQLite database: its base URL and the database."""
    require_prisma()
    database = tmp_path / "studio.db"
    port = free_port()
    env = os.environ | {"DATABASE_URL": f"sqlite:///{database}"}
    log = (tmp_path / "studio.log").open("w")
    command = [str(ROOT / "scripts" / "prisma"), "studio", "--hostname", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--browser", "none"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield f"http://127.0.0.1:{port}", database
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def studio_page(base_url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(base_url, timeout=10) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def studio_api(base_url: str, payload: dict[str, Any]) -> Any:
    """A call as Studio's page makes it: JSON in a text body to /api, answered gzipped."""
    body = json.dumps({"requestId": 1, "channel": "prisma", **payload}).encode()
    request = urllib.request.Request(f"{base_url}/api", data=body, headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(gzip.decompress(response.read()))["payload"]


async def test_studio_browses_a_sqlite_database(studio: tuple[str, Path]) -> None:
    base_url, database = studio
    await migrate_with_server(database)
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("INSERT INTO venue (id, name) VALUES ('v1', 'Grand Hall')")
        db.execute("INSERT INTO auditorium (id, venue_id, name) VALUES ('a1', 'v1', 'One')")
        db.execute("INSERT INTO layout (id, auditorium_id, version, created_at) VALUES ('l1', 'a1', 1, 0)")
        db.execute(
            "INSERT INTO showtime (id, layout_id, title, starts_at) VALUES ('s1', 'l1', 'Film', 1000000000000000)"
        )

    assert "<title>Prisma Studio</title>" in studio_page(base_url, deadline=time.monotonic() + 180)
    dmmf = studio_api(base_url, {"action": "getDMMF", "payload": {}})
    assert dmmf["error"] is None, dmmf["error"]
    assert "Showtime" in [model["name"] for model in dmmf["data"]["dmmf"]["datamodel"]["models"]]
    query = {"modelName": "Showtime", "operation": "findMany", "args": {"select": {"title": True, "startsAt": True}}}
    rows = studio_api(base_url, {"action": "clientRequest", "payload": {"data": query}})
    assert rows == {"error": None, "data": [{"title": "Film", "startsAt": "PrismaBigInt::1000000000000000"}]}
