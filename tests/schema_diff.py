"""What SQLAlchemy tables and a live database disagree on: tables, columns, types, nullability, keys, indexes."""

from __future__ import annotations

from sqlalchemy import Connection, ForeignKeyConstraint, MetaData, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeEngine

__all__ = ["schema_differences"]

BOOKKEEPING = "_prisma_migrations"


def _type(type_: TypeEngine[object], dialect: Dialect) -> str:
    """A type as the database spells it in DDL, so a generic type and its reflected twin compare equal."""
    return type_.compile(dialect=dialect)


def _action(action: str | None) -> str:
    return (action or "NO ACTION").upper()


def _facts_of_metadata(metadata: MetaData, dialect: Dialect) -> set[str]:
    facts = set()
    for table in metadata.tables.values():
        facts.add(f"table {table.name}")
        for column in table.columns:
            null = "NULL" if column.nullable else "NOT NULL"
            facts.add(f"column {table.name}.{column.name} {_type(column.type, dialect)} {null}")
        facts.add(f"primary key {table.name} ({', '.join(column.name for column in table.primary_key.columns)})")
        for index in table.indexes:
            columns = ", ".join(column.name for column in index.columns)
            facts.add(f"{'unique ' if index.unique else ''}index {index.name} on {table.name} ({columns})")
        for key in table.constraints:
            if isinstance(key, ForeignKeyConstraint):
                target = key.elements[0].column.table.name
                facts.add(
                    f"foreign key {key.name} on {table.name} ({', '.join(key.column_keys)}) references {target} "
                    f"({', '.join(element.column.name for element in key.elements)}) "
                    f"on delete {_action(key.ondelete)} on update {_action(key.onupdate)}"
                )
    return facts


def _facts_of_database(conn: Connection) -> set[str]:
    inspector = inspect(conn)
    dialect = conn.dialect
    facts = set()
    for table in inspector.get_table_names():
        if table == BOOKKEEPING:
            continue
        facts.add(f"table {table}")
        for column in inspector.get_columns(table):
            null = "NULL" if column["nullable"] else "NOT NULL"
            facts.add(f"column {table}.{column['name']} {_type(column['type'], dialect)} {null}")
        facts.add(f"primary key {table} ({', '.join(inspector.get_pk_constraint(table)['constrained_columns'])})")
        for index in inspector.get_indexes(table):
            columns = ", ".join(str(column) for column in index["column_names"])
            facts.add(f"{'unique ' if index['unique'] else ''}index {index['name']} on {table} ({columns})")
        for key in inspector.get_foreign_keys(table):
            options = key.get("options", {})
            facts.add(
                f"foreign key {key['name']} on {table} ({', '.join(key['constrained_columns'])}) references "
                f"{key['referred_table']} ({', '.join(key['referred_columns'])}) "
                f"on delete {_action(options.get('ondelete'))} on update {_action(options.get('onupdate'))}"
            )
    return facts


async def schema_differences(engine: AsyncEngine, metadata: MetaData) -> list[str]:
    """Each fact about the schema only one side holds, prefixed by that side; empty when they agree."""
    async with engine.connect() as conn:
        database = await conn.run_sync(_facts_of_database)
    tables = _facts_of_metadata(metadata, engine.dialect)
    return sorted(
        [f"only in the tables: {fact}" for fact in tables - database]
        + [f"only in the database: {fact}" for fact in database - tables]
    )
