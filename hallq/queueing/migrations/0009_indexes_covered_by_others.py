"""Tickets lose the hall and service indexes that other indexes begin with (ticket_queue with the
hall; ticket_number_unique_per_day and ticket_service_finished with the service): every call and
start wrote each of them again.

The model state changes by ``AlterField``; the database only drops the two indexes, without a lock
that stops the queue on PostgreSQL (``DROP INDEX CONCURRENTLY``, hence not atomic). Django's own
``AlterField`` would drop and re-add the foreign keys, checking every ticket while the table is
locked, and copy the table twice on SQLite.
"""

import django.db.models.deletion
from django.db import migrations, models

from hallq.common.migration_sql import drop_indexes

INDEXES = {
    "queueing_ticket_hall_id_a72224c8": "queueing_ticket (hall_id)",
    "queueing_ticket_service_id_34b7b5c8": "queueing_ticket (service_id)",
}


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("halls", "0001_initial"),
        ("queueing", "0008_counter_advance_reads_its_ticket"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[drop_indexes(INDEXES)],
            state_operations=[
                migrations.AlterField(
                    model_name="ticket",
                    name="hall",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tickets",
                        to="halls.hall",
                    ),
                ),
                migrations.AlterField(
                    model_name="ticket",
                    name="service",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tickets",
                        to="halls.service",
                    ),
                ),
            ],
        ),
    ]
