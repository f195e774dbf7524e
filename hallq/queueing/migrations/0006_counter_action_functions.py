"""A counter's call and its moving a ticket on, each in one PostgreSQL statement (docs/decisions/0005).

The web process reads the counter, its ticket and the candidates without locks, lets the domain
choose (``choose_next``), and hands the decision to one of these functions, which checks under
the counter's lock that nothing it decided on has changed, makes the changes and writes their
events, and commits as its statement ends. When something did change it changes nothing and says
so, and the web process reads again.

``hallq_call_next_v1``: the counter must be open and its active ticket still ``p_current``. The
web process sends its first few choices in the domain's order (each the one to call should those
before it be gone); the first that still waits and that no other counter is deciding on at that
moment (``SKIP LOCKED``) is called. The current ticket is finished, the chosen one called, the
counter's priority streak kept, and ``ticket.called`` then ``ticket.done`` written.

``hallq_counter_advance_v1``: the counter's ticket ``p_ticket`` moves from ``p_from`` to ``p_to``
(start, no-show) with its event.

Lock order as everywhere (docs/concurrency.md): the counter, tickets, the hall's event counter last.
A changed function is a new one with the next version in its name, created by a new migration.
"""

from django.db import migrations

from hallq.common.migration_sql import on_postgresql

CREATE = r"""
CREATE FUNCTION hallq_next_event_seqs_v1(p_hall bigint, p_count integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
BEGIN
    UPDATE realtime_halleventcounter SET last_seq = last_seq + p_count WHERE hall_id = p_hall
        RETURNING last_seq INTO v_last;
    IF NOT FOUND THEN
        INSERT INTO realtime_halleventcounter (hall_id, last_seq) VALUES (p_hall, 0)
            ON CONFLICT DO NOTHING;
        UPDATE realtime_halleventcounter SET last_seq = last_seq + p_count WHERE hall_id = p_hall
            RETURNING last_seq INTO v_last;
    END IF;
    RETURN v_last;
END
$$;

CREATE FUNCTION hallq_call_next_v1(
    p_counter bigint, p_hall bigint, p_now timestamptz,
    p_current bigint, p_current_service bigint, p_serving_at timestamptz, p_seconds integer,
    p_done jsonb,
    p_choices bigint[], p_services bigint[], p_called jsonb, p_streaks integer[],
    OUT status text, OUT chosen integer, OUT called_event bigint, OUT called_seq bigint,
    OUT done_event bigint, OUT done_seq bigint
) LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_active bigint;
    v_ticket bigint;
    v_count integer;
    v_last bigint;
BEGIN
    SELECT state INTO v_state FROM halls_counter WHERE id = p_counter FOR NO KEY UPDATE;
    IF v_state IS DISTINCT FROM 'open' THEN
        status := 'counter';
        RETURN;
    END IF;
    SELECT id INTO v_active FROM queueing_ticket
        WHERE counter_id = p_counter AND state IN ('called', 'serving');
    IF v_active IS DISTINCT FROM p_current THEN
        status := 'changed';
        RETURN;
    END IF;
    -- The first of the choices, in the domain's order, that still waits and that no other
    -- counter is deciding on at this moment.
    FOR i IN 1 .. coalesce(array_length(p_choices, 1), 0) LOOP
        PERFORM 1 FROM queueing_ticket WHERE id = p_choices[i] AND state = 'waiting'
            FOR NO KEY UPDATE SKIP LOCKED;
        IF FOUND THEN
            chosen := i;
            v_ticket := p_choices[i];
            EXIT;
        END IF;
    END LOOP;
    IF coalesce(array_length(p_choices, 1), 0) > 0 AND chosen IS NULL THEN
        status := 'taken';
        RETURN;
    END IF;
    IF p_current IS NOT NULL THEN
        UPDATE queueing_ticket SET state = 'done', finished_at = p_now,
                serving_at = p_serving_at, service_seconds = p_seconds
            WHERE id = p_current AND state = 'serving';
        IF NOT FOUND THEN
            status := 'changed';
            RETURN;
        END IF;
    END IF;
    IF chosen IS NOT NULL THEN
        UPDATE queueing_ticket SET state = 'called', counter_id = p_counter, called_at = p_now,
                recall_count = 0
            WHERE id = v_ticket;
        IF p_streaks[chosen] IS NOT NULL THEN
            UPDATE halls_counter SET priority_streak = p_streaks[chosen] WHERE id = p_counter;
        END IF;
    END IF;
    v_count := (chosen IS NOT NULL)::integer + (p_current IS NOT NULL)::integer;
    IF v_count > 0 THEN
        v_last := hallq_next_event_seqs_v1(p_hall, v_count);
        -- The call is numbered before the finish it follows (services.counter_call_next).
        IF chosen IS NOT NULL THEN
            called_seq := v_last - v_count + 1;
            INSERT INTO realtime_event (hall_id, seq, kind, ticket_id, service_id, counter_id,
                    payload, created_at)
                VALUES (p_hall, called_seq, 'ticket.called', v_ticket, p_services[chosen],
                    p_counter, p_called -> (chosen - 1), p_now)
                RETURNING id INTO called_event;
        END IF;
        IF p_current IS NOT NULL THEN
            done_seq := v_last;
            INSERT INTO realtime_event (hall_id, seq, kind, ticket_id, service_id, counter_id,
                    payload, created_at)
                VALUES (p_hall, done_seq, 'ticket.done', p_current, p_current_service,
                    p_counter, p_done, p_now)
                RETURNING id INTO done_event;
        END IF;
    END IF;
    status := 'ok';
END
$$;

CREATE FUNCTION hallq_counter_advance_v1(
    p_counter bigint, p_hall bigint, p_now timestamptz, p_ticket bigint, p_service bigint,
    p_from text, p_to text, p_serving_at timestamptz, p_finished_at timestamptz, p_kind text,
    p_payload jsonb,
    OUT status text, OUT event_id bigint, OUT event_seq bigint
) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM halls_counter WHERE id = p_counter FOR NO KEY UPDATE;
    UPDATE queueing_ticket SET state = p_to,
            serving_at = COALESCE(p_serving_at, serving_at),
            finished_at = COALESCE(p_finished_at, finished_at)
        WHERE id = p_ticket AND counter_id = p_counter AND state = p_from;
    IF NOT FOUND THEN
        status := 'changed';
        RETURN;
    END IF;
    event_seq := hallq_next_event_seqs_v1(p_hall, 1);
    INSERT INTO realtime_event (hall_id, seq, kind, ticket_id, service_id, counter_id, payload,
            created_at)
        VALUES (p_hall, event_seq, p_kind, p_ticket, p_service, p_counter, p_payload, p_now)
        RETURNING id INTO event_id;
    status := 'ok';
END
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS hallq_counter_advance_v1(
    bigint, bigint, timestamptz, bigint, bigint, text, text, timestamptz, timestamptz, text, jsonb);
DROP FUNCTION IF EXISTS hallq_call_next_v1(
    bigint, bigint, timestamptz, bigint, bigint, timestamptz, integer, jsonb, bigint[], bigint[],
    jsonb, integer[]);
DROP FUNCTION IF EXISTS hallq_next_event_seqs_v1(bigint, integer);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("queueing", "0005_walk_in_issue_function"),
        ("halls", "0001_initial"),
    ]

    operations = [on_postgresql(CREATE, DROP)]
