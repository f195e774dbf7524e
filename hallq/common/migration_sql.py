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
