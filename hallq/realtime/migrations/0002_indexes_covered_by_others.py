"""An event's hall: no index of its own (event_seq_unique_in_hall begins with it) and, on
PostgreSQL, no foreign key in the database (docs/concurrency.md, "Event order"): every event is
written in the transaction that updates its hall's HallEventCounter row, whose own key proves the
hall, while the key's check locked the hall's row for every call and start of the hall.

The model state changes by ``AlterField``; the database drops the index without a lock that
stops the queue on PostgreSQL (``DROP INDEX CONCURRENTLY``, hence not atomic) and the foreign key
by name, which checks nothing. Django's own ``AlterField`` would drop and re-add the key, checking
the whole event log under lock, and copy the table on SQLite, where the key stays (SQLite checks
it on each insert at no lock's cost; a later rebuild of the table drops it).
"""

import django.db.models.deletion
from django.db import migrations, models

from hallq.common.migration_sql import drop_foreign_key, drop_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("halls", "0001_initial"),
        ("realtime", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                drop_indexes({"realtime_event_hall_id_d4ae5a6a": "realtime_event (hall_id)"}),
                drop_foreign_key(
                    "realtime_event",
                    "realtime_event_hall_id_d4ae5a6a_fk_halls_hall_id",
                    "hall_id",
                    "halls_hall (id)",
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="hall",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="halls.hall",
                    ),
                ),
            ],
        ),
    ]
