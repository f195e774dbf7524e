"""A walk-in ticket issued in one PostgreSQL statement (docs/decisions/0005).

``hallq_walk_in_issue_v1`` does on the server what ``services.ticket_issue`` does for a walk-in
elsewhere: the service day's next number (the sequence row stays locked to commit), people
ahead by the SQL form of the domain's rule (``selectors.walk_in_position``), the first wait
estimate (``hallq_wait_estimate_v1``, the domain's ``estimate_wait_seconds``), the ticket row, and
its ``ticket.issued`` event with the hall's next event number. Called as a statement of its own
outside a transaction, it commits as it ends: the locks it takes are held for no round trip to the
web process. The tests check both functions against the domain (queueing/tests/test_selectors.py).

A changed function is a new one with the next version in its name, created by a new migration;
this one stays as it is.
"""

from django.db import migrations

from hallq.common.migration_sql import on_postgresql

CREATE = r"""
CREATE FUNCTION hallq_wait_estimate_v1(
    ahead integer, open_counters integer, idle_counters integer, service_seconds float8
) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN open_counters <= 0 THEN NULL
        WHEN ahead < idle_counters THEN 0
        ELSE ceil(((ahead - idle_counters)::float8 / open_counters + 0.5) * service_seconds)::integer
    END
$$;

CREATE FUNCTION hallq_walk_in_issue_v1(
    p_hall bigint, p_service bigint, p_date date, p_prefix text, p_channel text,
    p_now timestamptz, p_open integer, p_idle integer, p_seconds float8, p_payload jsonb,
    OUT ticket_id bigint, OUT sequence integer, OUT number text, OUT ahead integer,
    OUT waiting integer, OUT estimate integer, OUT event_id bigint, OUT event_seq bigint
) LANGUAGE plpgsql AS $$
BEGIN
    -- The day's next number; the row stays locked to commit, so the count below is exact.
    UPDATE queueing_ticketsequence SET last_number = last_number + 1
        WHERE service_id = p_service AND service_date = p_date
        RETURNING last_number INTO sequence;
    IF NOT FOUND THEN
        INSERT INTO queueing_ticketsequence (hall_id, service_id, service_date, last_number)
            VALUES (p_hall, p_service, p_date, 0) ON CONFLICT DO NOTHING;
        UPDATE queueing_ticketsequence SET last_number = last_number + 1
            WHERE service_id = p_service AND service_date = p_date
            RETURNING last_number INTO sequence;
    END IF;
    number := p_prefix || CASE WHEN sequence < 1000 THEN lpad(sequence::text, 3, '0')
                               ELSE sequence::text END;
    -- A statement of its own, so it sees every ticket committed before the lock was ours.
    SELECT COUNT(*), COALESCE(SUM(CASE
            WHEN t.reinstated_at IS NOT NULL THEN 1
            WHEN t.kind = 'appointment' AND t.slot_start IS NOT NULL THEN
                (CASE WHEN t.slot_start <= p_now THEN 1 ELSE 0 END)
            WHEN t.queue_time <= p_now THEN 1 ELSE 0 END), 0)
        INTO waiting, ahead
        FROM queueing_ticket AS t
        WHERE t.hall_id = p_hall AND t.service_id = p_service AND t.service_date = p_date
          AND t.state = 'waiting';
    estimate := hallq_wait_estimate_v1(ahead, p_open, p_idle, p_seconds);
    INSERT INTO queueing_ticket (hall_id, service_id, service_date, sequence, number, kind,
            channel, state, issued_at, queue_time, recall_count, people_ahead_at_issue,
            estimated_wait_at_issue)
        VALUES (p_hall, p_service, p_date, sequence, number, 'walk_in', p_channel, 'waiting',
            p_now, p_now, 0, ahead, estimate)
        RETURNING id INTO ticket_id;
    -- The hall's event counter last, as every other transaction takes it.
    UPDATE realtime_halleventcounter SET last_seq = last_seq + 1 WHERE hall_id = p_hall
        RETURNING last_seq INTO event_seq;
    IF NOT FOUND THEN
        INSERT INTO realtime_halleventcounter (hall_id, last_seq) VALUES (p_hall, 0)
            ON CONFLICT DO NOTHING;
        UPDATE realtime_halleventcounter SET last_seq = last_seq + 1 WHERE hall_id = p_hall
            RETURNING last_seq INTO event_seq;
    END IF;
    INSERT INTO realtime_event (hall_id, seq, kind, ticket_id, service_id, counter_id, payload,
            created_at)
        VALUES (p_hall, event_seq, 'ticket.issued', ticket_id, p_service, NULL,
            p_payload || jsonb_build_object('number', number, 'people_ahead', ahead), p_now)
        RETURNING id INTO event_id;
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS hallq_walk_in_issue_v1(
    bigint, bigint, date, text, text, timestamptz, integer, integer, float8, jsonb);
DROP FUNCTION IF EXISTS hallq_wait_estimate_v1(integer, integer, integer, float8);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("queueing", "0004_ticket_owner_default"),
        ("realtime", "0001_initial"),
    ]

    operations = [on_postgresql(CREATE, DROP)]
