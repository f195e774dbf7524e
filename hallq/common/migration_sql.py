"""SQL that only PostgreSQL runs, as a migration operation (the one-statement functions of
docs/decisions/0005). Migrations import this: keep what it does as it is."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def on_postgresql(create: str, drop: str) -> migrations.RunPython:
    """Run ``create`` forwards and ``drop`` backwards on PostgreSQL; nothing on SQLite."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create)

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop)

    return migrations.RunPython(forwards, backwards)


def drop_indexes(indexes: dict[str, str]) -> migrations.RunPython:
    """Drop indexes by name (``{name: "table (column)"}``, to create them again backwards),
    on PostgreSQL without blocking writes (``CONCURRENTLY``: the migration must not be atomic)."""

    def concurrently(schema_editor: Any) -> str:
        return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""

    def forwards(apps: Any, schema_editor: Any) -> None:
        for name in indexes:
            schema_editor.execute(f"DROP INDEX {concurrently(schema_editor)}IF EXISTS {name}")

    def backwards(apps: Any, schema_editor: Any) -> None:
        for name, target in indexes.items():
            schema_editor.execute(
                f"CREATE INDEX {concurrently(schema_editor)}IF NOT EXISTS {name} ON {target}"
            )

    return migrations.RunPython(forwards, backwards)


def drop_foreign_key(table: str, name: str, column: str, target: str) -> migrations.RunPython:
    """Drop a foreign key by name on PostgreSQL, which checks nothing; backwards it is added
    again without a check under lock, then validated. SQLite keeps its keys in the table's
    definition: nothing is done there."""

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
                f"REFERENCES {target} DEFERRABLE INITIALLY DEFERRED NOT VALID"
            )
            schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")

    return migrations.RunPython(forwards, backwards)
