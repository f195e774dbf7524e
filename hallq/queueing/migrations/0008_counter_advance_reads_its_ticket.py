"""Start and no-show in one PostgreSQL statement, without the read before it (docs/decisions/0005).

``hallq_counter_advance_v2`` finds the counter's ticket itself: under the counter's lock it moves
the ticket at the counter from ``p_from`` to ``p_to`` (stamping ``serving_at`` or ``finished_at``
with ``p_now`` as asked), writes the event with the payload ``services.ticket_payload`` writes
(built here from the row; a test holds the two equal), commits as its statement ends, and
returns the counter and the ticket as they now are, for the answer and the announcement. When
no ticket at the counter is in ``p_from`` it changes nothing and says so; the web process then
reads the counter to say why. Version 1 read the counter and its ticket in a statement before.

Lock order as everywhere (docs/concurrency.md): the counter, the ticket, the hall's event counter.
"""

from django.db import migrations

from hallq.common.migration_sql import on_postgresql

CREATE = r"""
CREATE FUNCTION hallq_counter_advance_v2(
    p_counter bigint, p_now timestamptz, p_from text, p_to text, p_kind text,
    p_starts boolean, p_finishes boolean,
    OUT status text, OUT event_id bigint, OUT event_seq bigint,
    OUT counter halls_counter, OUT ticket queueing_ticket
) LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO counter FROM halls_counter WHERE id = p_counter FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        status := 'counter';
        RETURN;
    END IF;
    -- The state list as one_active_ticket_per_counter says it, so that its index is used.
    UPDATE queueing_ticket SET state = p_to,
            serving_at = CASE WHEN p_starts THEN p_now ELSE serving_at END,
            finished_at = CASE WHEN p_finishes THEN p_now ELSE finished_at END
        WHERE counter_id = p_counter AND state IN ('called', 'serving') AND state = p_from
        RETURNING * INTO ticket;
    IF NOT FOUND THEN
        status := 'changed';
        RETURN;
    END IF;
    event_seq := hallq_next_event_seqs_v1(counter.hall_id, 1);
    INSERT INTO realtime_event (hall_id, seq, kind, ticket_id, service_id, counter_id, payload,
            created_at)
        VALUES (counter.hall_id, event_seq, p_kind, ticket.id, ticket.service_id, p_counter,
            jsonb_build_object(
                'number', ticket.number,
                'state', ticket.state,
                'ticket_kind', ticket.kind,
                'service_date', to_char(ticket.service_date, 'YYYY-MM-DD'),
                'counter_number', counter.number,
                'counter_name', counter.name,
                'recall_count', ticket.recall_count),
            p_now)
        RETURNING id INTO event_id;
    status := 'ok';
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS hallq_counter_advance_v2(
    bigint, timestamptz, text, text, text, boolean, boolean);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("queueing", "0007_waiting_priority_index"),
        ("halls", "0001_initial"),
        ("realtime", "0001_initial"),
    ]

    operations = [on_postgresql(CREATE, DROP)]
