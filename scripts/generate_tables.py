#!/usr/bin/env python3
"""Write server/storage/tables.py, the SQLAlchemy Core tables the server runs on, from prisma/schema.prisma.

    scripts/generate_tables.py            # after editing prisma/schema.prisma
    scripts/generate_tables.py --check    # exit 1, with a diff, if tables.py is not what the schema generates

The tables are described as the Prisma migrations create them, on SQLite and on PostgreSQL: table and column
names (@@map/@map), types, nullability (?), primary keys (@id/@@id), server defaults (@default), indexes
(@@index, @unique/@@unique) and foreign keys (@relation) with Prisma's default names and referential actions.
The script reads the part of the Prisma schema language this project uses; anything else (enums, native
types, @updatedAt, sort orders, ...) stops it with the line it cannot map, so nothing in the schema is ever
silently left out of the runtime's tables.
"""

from __future__ import annotations

import argparse
import difflib
import json
import keyword
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "prisma" / "schema.prisma"
TABLES = ROOT / "server" / "storage" / "tables.py"
LINE_LENGTH = 120  # ruff's, so the output is already formatted
MAX_NAME_LENGTH = 63  # PostgreSQL's identifier limit; Prisma shortens longer default names in its own way

TOKEN = re.compile(
    r"""(?P<newline>\n)
    |(?P<space>[ \t\r]+)
    |(?P<doc>///[^\n]*)
    |(?P<comment>//[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    |(?P<at>@@?)
    |(?P<punctuation>[{}()\[\],:?=])""",
    re.VERBOSE,
)

# Prisma scalar type: (SQLAlchemy type expression, names it imports). Float and DateTime differ per provider.
SCALAR_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "String": ("Text", ("Text",)),
    "Int": ("Integer", ("Integer",)),
    "BigInt": ("BigInteger", ("BigInteger",)),
    "Float": ('Double().with_variant(REAL(), "sqlite")', ("Double", "REAL")),
    "Boolean": ("Boolean", ("Boolean",)),
    "DateTime": (
        'DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")',
        ("DateTime", "postgresql"),
    ),
}
INTEGER_TYPES = ("Int", "BigInt")
REFERENTIAL_ACTIONS = {
    "Cascade": "CASCADE",
    "Restrict": "RESTRICT",
    "NoAction": "NO ACTION",
    "SetNull": "SET NULL",
    "SetDefault": "SET DEFAULT",
}
SKIPPED_BLOCKS = ("datasource", "generator")  # settings of the Prisma tools, no tables in them


class SchemaError(Exception):
    """A construct of the schema this generator cannot map, with the line it is on."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


# The syntax tree: blocks of fields and attributes whose arguments are values.


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int


@dataclass(frozen=True)
class Quoted:
    text: str


@dataclass(frozen=True)
class Number:
    text: str


@dataclass(frozen=True)
class Call:
    """A bare name (``Cascade``, ``true``, a field) when ``args`` is None, else a function call (``now()``)."""

    name: str
    args: tuple[Argument, ...] | None


@dataclass(frozen=True)
class Items:
    values: tuple[Value, ...]


Value = Quoted | Number | Call | Items


@dataclass(frozen=True)
class Argument:
    key: str | None
    value: Value


@dataclass(frozen=True)
class Attribute:
    """``@id`` is named "id", ``@@id`` "@id": the spelling in the schema after its first @."""

    name: str
    args: tuple[Argument, ...]
    line: int

    def arguments(self, positional: str | None, *keys: str) -> dict[str, Value]:
        """The arguments by name, the unnamed first one as ``positional``; any other name is an error."""
        named: dict[str, Value] = {}
        for index, argument in enumerate(self.args):
            key = argument.key or (positional if index == 0 else None)
            if key is None or key not in (positional, *keys):
                given = f"argument {argument.key!r}" if argument.key else f"unnamed argument {index + 1}"
                raise SchemaError(self.line, f"{given} of @{self.name} is not supported")
            if key in named:
                raise SchemaError(self.line, f"@{self.name} gives {key!r} twice")
            named[key] = argument.value
        return named


@dataclass
class Field:
    name: str
    type: str
    optional: bool
    is_list: bool
    attributes: list[Attribute]
    docs: list[str]
    line: int


@dataclass
class Model:
    name: str
    fields: list[Field]
    attributes: list[Attribute]
    docs: list[str]
    line: int


def tokenize(source: str) -> list[Token]:
    tokens, line, position = [], 1, 0
    while position < len(source):
        match = TOKEN.match(source, position)
        if match is None:
            raise SchemaError(line, f"unexpected character {source[position]!r}")
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            tokens.append(Token(kind, match.group(), line))
        line += kind == "newline"
        position = match.end()
    return [*tokens, Token("end", "", line)]


class Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0

    @property
    def next(self) -> Token:
        return self.tokens[self.position]

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.next
        if token.kind != kind or (text is not None and token.text != text):
            expected = repr(text) if text is not None else kind
            raise SchemaError(token.line, f"expected {expected}, found {token.text or token.kind!r}")
        self.position += 1
        return token

    def accept(self, text: str) -> bool:
        if self.next.text == text and self.next.kind in ("punctuation", "at"):
            self.position += 1
            return True
        return False

    def skip_newlines(self) -> None:
        while self.next.kind == "newline":
            self.position += 1

    def schema(self) -> list[Model]:
        models: list[Model] = []
        docs: list[str] = []
        while True:
            self.skip_newlines()
            token = self.next
            if token.kind == "end":
                return models
            if token.kind == "doc":
                docs.append(self.take("doc").text)
                continue
            kind = self.take("name")
            if kind.text in SKIPPED_BLOCKS:
                self.take("name")
                self.skip_block()
            elif kind.text == "model":
                models.append(self.model(docs))
            else:
                raise SchemaError(kind.line, f"{kind.text!r} blocks are not supported, only model and settings")
            docs = []

    def skip_block(self) -> None:
        self.take("punctuation", "{")
        while not self.accept("}"):
            if self.next.kind == "end" or self.accept("{"):
                raise SchemaError(self.next.line, "unbalanced braces")
            self.position += 1

    def model(self, docs: list[str]) -> Model:
        name = self.take("name")
        self.take("punctuation", "{")
        model = Model(name.text, [], [], docs, name.line)
        field_docs: list[str] = []
        while True:
            self.skip_newlines()
            if self.accept("}"):
                return model
            if self.next.kind == "doc":
                field_docs.append(self.take("doc").text)
            elif self.next.text == "@@":
                model.attributes.append(self.attribute())
                self.end_of_line()
            else:
                model.fields.append(self.field(field_docs))
                field_docs = []

    def field(self, docs: list[str]) -> Field:
        name = self.take("name")
        type_name = self.take("name")
        if self.next.text == "(":
            raise SchemaError(type_name.line, f"type {type_name.text}(...) of field {name.text!r} is not supported")
        is_list = self.accept("[")
        if is_list:
            self.take("punctuation", "]")
        optional = self.accept("?")
        attributes = []
        while self.next.text == "@":
            attributes.append(self.attribute())
        self.end_of_line()
        return Field(name.text, type_name.text, optional, is_list, attributes, docs, name.line)

    def end_of_line(self) -> None:
        if self.next.kind not in ("newline", "doc", "end") and self.next.text != "}":
            raise SchemaError(self.next.line, f"unexpected {self.next.text!r}")

    def attribute(self) -> Attribute:
        at = self.take("at")
        name = self.take("name")
        args = self.arguments() if self.next.text == "(" else ()
        return Attribute(at.text.removeprefix("@") + name.text, args, at.line)

    def arguments(self) -> tuple[Argument, ...]:
        self.take("punctuation", "(")
        args: list[Argument] = []
        while not self.accept(")"):
            if args:
                self.take("punctuation", ",")
            key = None
            if self.next.kind == "name" and self.tokens[self.position + 1].text == ":":
                key = self.take("name").text
                self.take("punctuation", ":")
            args.append(Argument(key, self.value()))
        return tuple(args)

    def value(self) -> Value:
        token = self.next
        if token.kind == "string":
            self.position += 1
            try:
                return Quoted(json.loads(token.text))
            except json.JSONDecodeError as error:
                raise SchemaError(token.line, f"cannot read the string {token.text}") from error
        if token.kind == "number":
            self.position += 1
            return Number(token.text)
        if self.accept("["):
            values: list[Value] = []
            while not self.accept("]"):
                if values:
                    self.take("punctuation", ",")
                values.append(self.value())
            return Items(tuple(values))
        name = self.take("name")
        return Call(name.text, self.arguments() if self.next.text == "(" else None)


# From the syntax tree to tables.


@dataclass
class ColumnSpec:
    name: str
    prisma_type: str
    nullable: bool
    default: str | None
    docs: list[str]


@dataclass
class ForeignKeySpec:
    name: str
    columns: list[str]
    target: str
    target_columns: list[str]
    on_delete: str
    on_update: str


@dataclass
class TableSpec:
    name: str
    docs: list[str]
    line: int
    columns: list[ColumnSpec] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    indexes: list[tuple[str, list[str], bool]] = field(default_factory=list)
    foreign_keys: list[ForeignKeySpec] = field(default_factory=list)


def quoted(value: Value | None, attribute: Attribute, what: str) -> str:
    if not isinstance(value, Quoted):
        raise SchemaError(attribute.line, f"{what} of @{attribute.name} must be a string")
    return value.text


def plain_names(value: Value | None, attribute: Attribute, what: str) -> list[str]:
    if not isinstance(value, Items) or not value.values:
        raise SchemaError(attribute.line, f"{what} of @{attribute.name} must be a list of field names")
    listed = []
    for item in value.values:
        if not isinstance(item, Call) or item.args is not None:
            raise SchemaError(attribute.line, f"{what} of @{attribute.name} may hold plain field names only")
        listed.append(item.name)
    return listed


def mapped_name(attributes: list[Attribute], map_attribute: str, fallback: str) -> str:
    """The database name a @map/@@map gives, else the Prisma name."""
    for attribute in attributes:
        if attribute.name == map_attribute:
            return quoted(attribute.arguments("name").get("name"), attribute, "the name")
    return fallback


def default_name(name: str, line: int) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(line, f"the default name {name!r} is longer than {MAX_NAME_LENGTH} characters: give a map:")
    return name


def default_sql(column: Field, attribute: Attribute) -> str:
    """The SQL of a @default, as the migrations write it; client-side defaults (uuid(), cuid()) are refused."""
    value = attribute.arguments("value").get("value")
    if column.type == "String" and isinstance(value, Quoted):
        return "'" + value.text.replace("'", "''") + "'"
    whole = isinstance(value, Number) and "." not in value.text
    if isinstance(value, Number) and (column.type == "Float" or (column.type in INTEGER_TYPES and whole)):
        return value.text
    if column.type == "Boolean" and isinstance(value, Call) and value.name in ("true", "false") and value.args is None:
        return value.name
    if column.type == "DateTime" and isinstance(value, Call) and value.name == "now" and value.args == ():
        return "CURRENT_TIMESTAMP"
    raise SchemaError(attribute.line, f"this @default of {column.type} field {column.name!r} is not supported")


class Schema:
    """The models of a schema, resolved into the tables the migrations create."""

    def __init__(self, models: list[Model]) -> None:
        self.models = {model.name: model for model in models}
        self.table_names = {model.name: mapped_name(model.attributes, "@map", model.name) for model in models}

    def tables(self) -> list[TableSpec]:
        return [self.table(model) for model in self.models.values()]

    def column_name(self, model: Model, field_name: str, line: int) -> str:
        for candidate in model.fields:
            if candidate.name == field_name and candidate.type in SCALAR_TYPES:
                return mapped_name(candidate.attributes, "map", candidate.name)
        raise SchemaError(line, f"model {model.name} has no scalar field {field_name!r}")

    def column_names(self, model: Model, value: Value | None, attribute: Attribute, what: str) -> list[str]:
        return [self.column_name(model, name, attribute.line) for name in plain_names(value, attribute, what)]

    def table(self, model: Model) -> TableSpec:
        table = TableSpec(self.table_names[model.name], model.docs, model.line)
        for column in model.fields:
            if column.type in SCALAR_TYPES:
                table.columns.append(self.scalar_column(model, column, table))
            elif column.type in self.models:
                self.relation(model, column, table)
            else:
                raise SchemaError(column.line, f"type {column.type} of field {column.name!r} is not supported")
        for attribute in model.attributes:
            if attribute.name == "@id":
                columns = self.column_names(model, attribute.arguments("fields").get("fields"), attribute, "fields")
                self.set_primary_key(model, table, columns, attribute)
            elif attribute.name in ("@index", "@unique"):
                arguments = attribute.arguments("fields", "map")
                columns = self.column_names(model, arguments.get("fields"), attribute, "fields")
                self.add_index(table, columns, attribute.name == "@unique", arguments, attribute)
            elif attribute.name != "@map":
                raise SchemaError(attribute.line, f"@{attribute.name} is not supported")
        return table

    @staticmethod
    def set_primary_key(model: Model, table: TableSpec, columns: list[str], attribute: Attribute) -> None:
        if table.primary_key:
            raise SchemaError(attribute.line, f"model {model.name} has two primary keys")
        table.primary_key = columns

    @staticmethod
    def add_index(
        table: TableSpec, columns: list[str], unique: bool, arguments: dict[str, Value], attribute: Attribute
    ) -> None:
        if "map" in arguments:
            name = quoted(arguments["map"], attribute, "map")
        else:
            name = default_name(f"{table.name}_{'_'.join(columns)}{'_key' if unique else '_idx'}", attribute.line)
        table.indexes.append((name, columns, unique))

    def scalar_column(self, model: Model, column: Field, table: TableSpec) -> ColumnSpec:
        if column.is_list:
            raise SchemaError(column.line, f"scalar list {column.type}[] of field {column.name!r} is not supported")
        name = mapped_name(column.attributes, "map", column.name)
        spec = ColumnSpec(name, column.type, column.optional, None, column.docs)
        for attribute in column.attributes:
            if attribute.name == "id":
                attribute.arguments(None)
                self.set_primary_key(model, table, [name], attribute)
            elif attribute.name == "default":
                spec.default = default_sql(column, attribute)
            elif attribute.name == "unique":
                self.add_index(table, [name], True, attribute.arguments(None, "map"), attribute)
            elif attribute.name != "map":
                raise SchemaError(attribute.line, f"@{attribute.name} on field {column.name!r} is not supported")
        return spec

    def relation(self, model: Model, column: Field, table: TableSpec) -> None:
        """The foreign key of the side of a relation that holds ``fields``; the other side has no column."""
        for attribute in column.attributes:
            if attribute.name != "relation":
                raise SchemaError(attribute.line, f"@{attribute.name} on relation field {column.name!r} is unsupported")
            arguments = attribute.arguments("name", "fields", "references", "onDelete", "onUpdate")
            if set(arguments) <= {"name"}:
                continue  # names the relation for Prisma Client; nothing in the database
            if column.is_list:
                raise SchemaError(attribute.line, f"list relation field {column.name!r} cannot hold the foreign key")
            target = self.models[column.type]
            columns = self.column_names(model, arguments.get("fields"), attribute, "fields")
            references = self.column_names(target, arguments.get("references"), attribute, "references")
            if len(columns) != len(references):
                raise SchemaError(attribute.line, f"fields and references of {column.name!r} differ in length")
            on_delete = self.action(arguments, "onDelete", "SetNull" if column.optional else "Restrict", attribute)
            table.foreign_keys.append(
                ForeignKeySpec(
                    default_name(f"{table.name}_{'_'.join(columns)}_fkey", attribute.line),
                    columns,
                    self.table_names[target.name],
                    references,
                    on_delete,
                    self.action(arguments, "onUpdate", "Cascade", attribute),
                )
            )

    @staticmethod
    def action(arguments: dict[str, Value], key: str, default: str, attribute: Attribute) -> str:
        action = arguments.get(key, Call(default, None))
        if not isinstance(action, Call) or action.args is not None or action.name not in REFERENTIAL_ACTIONS:
            raise SchemaError(attribute.line, f"{key} must be one of {', '.join(REFERENTIAL_ACTIONS)}")
        return REFERENTIAL_ACTIONS[action.name]


# From tables to Python.


def call(function: str, arguments: list[str], indent: int) -> str:
    """A call laid out as ruff's formatter lays it out: on one line, else its arguments on one line of their own,
    else one argument a line (the trailing comma keeps that form)."""
    inside = ", ".join(arguments)
    if indent + len(function) + len(inside) + 3 <= LINE_LENGTH:  # (), and the comma after the call
        return f"{function}({inside})"
    if indent + 4 + len(inside) <= LINE_LENGTH:
        return f"{function}(\n{' ' * (indent + 4)}{inside}\n{' ' * indent})"
    lines = "".join(f"{' ' * (indent + 4)}{argument},\n" for argument in arguments)
    return f"{function}(\n{lines}{' ' * indent})"


def literal(value: str) -> str:
    """A Python string literal in the quotes ruff's formatter prefers."""
    return repr(value) if '"' in value and "'" not in value else json.dumps(value, ensure_ascii=False)


def literals(values: list[str]) -> str:
    return f"[{', '.join(map(literal, values))}]"


def comments(docs: list[str], indent: int) -> str:
    return "".join(" " * indent + "# " + doc.removeprefix("///").strip() + "\n" for doc in docs)


HEADER = '''# Generated from prisma/schema.prisma by scripts/generate_tables.py: do not edit by hand.
# After changing the schema, run scripts/generate_tables.py and commit the result.
"""The tables of ``prisma/schema.prisma``, described for SQLAlchemy Core as Prisma's migrations create them."""

from __future__ import annotations

'''
# Names tables.py defines or may import, which a table's Python name must not shadow.
RESERVED = {"metadata", "text", "postgresql", "Column", "ForeignKeyConstraint", "Index", "MetaData"}
RESERVED |= {"PrimaryKeyConstraint", "Table", *(name for _, used in SCALAR_TYPES.values() for name in used)}


def column_code(column: TableSpec, spec: ColumnSpec, imports: set[str]) -> str:
    type_expression, used = SCALAR_TYPES[spec.prisma_type]
    imports.update(used)
    arguments = [literal(spec.name), type_expression]
    if column.primary_key == [spec.name]:
        arguments.append("primary_key=True")
        if spec.prisma_type in INTEGER_TYPES:
            arguments.append("autoincrement=False")  # the migrations give PostgreSQL no sequence
    elif not spec.nullable:
        arguments.append("nullable=False")
    if spec.default is not None:
        imports.add("text")
        arguments.append(f"server_default=text({literal(spec.default)})")
    return comments(spec.docs, 4) + " " * 4 + call("Column", arguments, 4)


def table_code(table: TableSpec, imports: set[str]) -> str:
    if not table.name.isidentifier() or keyword.iskeyword(table.name) or table.name in RESERVED:
        raise SchemaError(table.line, f"table name {table.name!r} cannot name a Python variable: choose another @@map")
    parts = [column_code(table, column, imports) for column in table.columns]
    constraints = []
    if len(table.primary_key) > 1:
        constraints.append(("PrimaryKeyConstraint", [literal(name) for name in table.primary_key]))
    for key in table.foreign_keys:
        target_columns = [f"{key.target}.{column}" for column in key.target_columns]
        constraints.append(
            (
                "ForeignKeyConstraint",
                [
                    literals(key.columns),
                    literals(target_columns),
                    f"name={literal(key.name)}",
                    f"ondelete={literal(key.on_delete)}",
                    f"onupdate={literal(key.on_update)}",
                ],
            )
        )
    for name, columns, unique in table.indexes:
        constraints.append(("Index", [literal(name), *map(literal, columns), *(["unique=True"] if unique else [])]))
    for function, arguments in constraints:
        imports.add(function)
        parts.append(" " * 4 + call(function, arguments, 4))
    lines = "".join(f"{part},\n" for part in [f"    {literal(table.name)}", "    metadata", *parts])
    return f"{comments(table.docs, 0)}{table.name} = Table(\n{lines})\n"


def import_code(imports: set[str]) -> str:
    """The imports, sorted as ruff's isort sorts them: constants, classes, then functions."""
    names = sorted(imports - {"postgresql"}, key=lambda name: (not name.isupper(), not name[0].isupper(), name))
    code = f"from sqlalchemy import {', '.join(names)}\n"
    if len(code) > LINE_LENGTH:
        code = "from sqlalchemy import (\n" + "".join(f"    {name},\n" for name in names) + ")\n"
    if "postgresql" in imports:
        code += "from sqlalchemy.dialects import postgresql\n"
    return code


def render(tables: list[TableSpec]) -> str:
    imports = {"MetaData", "Table", "Column"}
    blocks = [table_code(table, imports) for table in tables]
    exported = "".join(f"    {literal(name)},\n" for name in sorted(["metadata", *(table.name for table in tables)]))
    return (
        HEADER
        + import_code(imports)
        + f"\n__all__ = [\n{exported}]\n\nmetadata = MetaData()\n"
        + "".join(f"\n{block}" for block in blocks)
    )


def generate(source: str) -> str:
    return render(Schema(Parser(tokenize(source)).schema()).tables())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schema", type=Path, default=SCHEMA, help="the Prisma schema (default: %(default)s)")
    parser.add_argument("--output", default=str(TABLES), help="the file to write, - for stdout (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only compare with --output; exit 1 if it differs")
    args = parser.parse_args()
    try:
        code = generate(args.schema.read_text())
    except SchemaError as error:
        print(f"error: {args.schema}: {error}", file=sys.stderr)
        return 1
    if args.check:
        current = Path(args.output).read_text()
        if current == code:
            return 0
        sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), code.splitlines(True), args.output, "new"))
        print(f"{args.output} is not what {args.schema} generates: run scripts/generate_tables.py", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(code)
    else:
        Path(args.output).write_text(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
