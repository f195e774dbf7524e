"""After a run: what each bound ticket should have received, what the stand-in accepted, and
how long a call took to become a message (all read after the run, from the database and the
stand-in's message log).

Expected per bound ticket (every ticket has its own WeChat user, so a user's messages are that
ticket's): one call message per `ticket.called` event, one recall message per
`ticket.recalled`, one evaluation invitation per `ticket.done`, and one pre-call if the ticket
was ever waiting within its pre-call distance -- that is, every called ticket (it waited at 0
ahead before its call) and every ticket still waiting within the distance at the end.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from hallq_bench import db, pct
from notifications_stack import BoundTicket

KINDS = ("pre_call", "call", "recall", "evaluation")
EVENT_KINDS = {"ticket.called": "call", "ticket.recalled": "recall", "ticket.done": "evaluation"}


def message_kind(message: dict[str, Any]) -> str:
    """The notification kind of a stand-in message: its template is tpl_<kind> / sub_<kind>
    (the settings' defaults, which name the stand-in's templates)."""
    return str(message["template_id"]).split("_", 1)[1]


def _ticket_facts(ids: list[int]) -> dict[int, dict[str, Any]]:
    with db() as conn:
        rows = conn.execute(
            """
            SELECT t.id, t.number, t.state, c.number,
                   coalesce(t.pre_call_distance, s.pre_call_distance), t.called_at
            FROM queueing_ticket t
            JOIN halls_service s ON s.id = t.service_id
            LEFT JOIN halls_counter c ON c.id = t.counter_id
            WHERE t.id = ANY(%s)
            """,
            (ids,),
        ).fetchall()
        events = conn.execute(
            "SELECT ticket_id, kind, count(*) FROM realtime_event "
            "WHERE ticket_id = ANY(%s) AND kind = ANY(%s) GROUP BY 1, 2",
            (ids, list(EVENT_KINDS)),
        ).fetchall()
        # People ahead of each waiting ticket (all walk-ins: the calling order is queue order).
        ahead: dict[int, int] = dict(
            conn.execute(
                "SELECT id, row_number() OVER (PARTITION BY service_id "
                "ORDER BY queue_time, id) - 1 FROM queueing_ticket WHERE state = 'waiting'"
            ).fetchall()
        )
    facts = {
        tid: {
            "number": number,
            "state": state,
            "counter_number": counter_number,
            "distance": distance,
            "called_at": called_at,
            "ahead": ahead.get(tid),
            "events": Counter(),
        }
        for tid, number, state, counter_number, distance, called_at in rows
    }
    for tid, kind, count in events:
        facts[tid]["events"][EVENT_KINDS[kind]] += count
    return facts


def _notifications(ids: list[int]) -> list[tuple[Any, ...]]:
    with db() as conn:
        return conn.execute(
            "SELECT subject_id, kind, occurrence, state, attempts, channel, created_at, sent_at "
            "FROM notifications_notification WHERE subject_type = 'ticket' "
            "AND subject_id = ANY(%s)",
            (ids,),
        ).fetchall()


def verify_messages(
    bound: list[BoundTicket], messages: list[dict[str, Any]], stats: dict[str, int]
) -> dict[str, Any]:
    """Per kind: tickets that should have had it, got it exactly as often, missed it, got it
    more often than due (a duplicate the citizen sees), or got one that was not due."""
    facts = _ticket_facts([t.id for t in bound])
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        by_user[message["to"]].append(message)
    kinds: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    wrong_content = pre_call_after_call = 0
    pre_call_ahead: Counter[str] = Counter()
    for ticket in bound:
        fact = facts[ticket.id]
        got = Counter(message_kind(m) for m in by_user[ticket.openid])
        was_near = fact["events"]["call"] > 0 or (
            fact["state"] == "waiting"
            and fact["ahead"] is not None
            and fact["ahead"] <= fact["distance"]
        )
        due = {
            "pre_call": 1 if was_near else 0,
            "call": fact["events"]["call"],
            "recall": fact["events"]["recall"],
            "evaluation": fact["events"]["evaluation"],
        }
        for kind in KINDS:
            tally = kinds[kind]
            tally["due"] += due[kind]
            if got[kind] == due[kind]:
                tally["exact_tickets"] += 1 if due[kind] else 0
            elif got[kind] < due[kind]:
                tally["missed"] += due[kind] - got[kind]
            elif due[kind]:
                tally["duplicates"] += got[kind] - due[kind]
            else:
                tally["not_due"] += got[kind]
            tally["accepted"] += got[kind]
        for message in by_user[ticket.openid]:
            kind, data = message_kind(message), message["data"]
            names_counter = str(data.get("counter", "")).startswith(
                f"{fact['counter_number']}号窗口"
            )
            if data.get("number") != fact["number"] or (
                kind in ("call", "recall") and not names_counter
            ):
                wrong_content += 1
            if kind == "pre_call":
                pre_call_ahead[str(data.get("ahead"))] += 1
        ids = {message_kind(m): m["id"] for m in reversed(by_user[ticket.openid])}
        if "pre_call" in ids and "call" in ids and ids["pre_call"] > ids["call"]:
            pre_call_after_call += 1
    rows = _notifications([t.id for t in bound])
    states = Counter(row[3] for row in rows)
    ok = (
        all(k["missed"] == 0 and k["duplicates"] == 0 and k["not_due"] == 0 for k in kinds.values())
        and wrong_content == 0
        and pre_call_after_call == 0
        and set(states) <= {"sent"}
    )
    return {
        "ok": ok,
        "kinds": {kind: dict(tally) for kind, tally in kinds.items()},
        "wrong_content": wrong_content,
        "pre_call_after_call": pre_call_after_call,
        "pre_call_ahead": dict(sorted(pre_call_ahead.items())),
        "notification_states": dict(states),
        "notifications_retried": sum(1 for row in rows if row[4] > 1),
        "channels": dict(Counter(row[5] or "-" for row in rows)),
        "standin_messages": len(messages),
        "standin_duplicates_ignored": stats.get("duplicates_ignored", 0),
        "standin_failures_injected": stats.get("failures_injected", 0),
        "tickets": len(bound),
        "tickets_called": sum(1 for f in facts.values() if f["events"]["call"]),
        "tickets_waiting_at_end": sum(1 for f in facts.values() if f["state"] == "waiting"),
    }


def call_latencies(
    bound: list[BoundTicket], records: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> dict[str, Any]:
    """Counter "call next" (the client's clock just before the request) → the stand-in accepted
    the call message (its clock: the same machine's). Also the split, from the database: call
    sent → the start of the queue pushes' round that enqueued the message (its created_at) →
    the delivery's first try at it (the attempt's started_at) → accepted; and call-next's
    round trip."""
    user_of = {t.id: t.openid for t in bound}
    accepted = {
        m["to"]: m["sent_at"] for m in messages if message_kind(m) == "call"
    }  # one call per ticket here (no ticket is called twice)
    calls = [r for r in records if r.get("ticket")]
    with db() as conn:
        rows = conn.execute(
            "SELECT n.subject_id, n.created_at, min(a.started_at) "
            "FROM notifications_notification n "
            "LEFT JOIN notifications_deliveryattempt a ON a.notification_id = n.id "
            "WHERE n.kind = 'call' AND n.subject_type = 'ticket' AND n.subject_id = ANY(%s) "
            "GROUP BY 1, 2",
            ([r["ticket"] for r in calls],),
        ).fetchall()
    enqueued: dict[int, tuple[dt.datetime, dt.datetime | None]] = {
        tid: (created, tried) for tid, created, tried in rows
    }
    total: list[float] = []
    to_enqueue: list[float] = []
    to_try: list[float] = []
    to_accept: list[float] = []
    missing = 0
    for record in calls:
        at = accepted.get(user_of.get(record["ticket"], ""))
        if at is None:
            missing += 1
            continue
        total.append((at - record["wall"]) * 1000)
        if record["ticket"] in enqueued:
            created, tried = enqueued[record["ticket"]]
            to_enqueue.append((created.timestamp() - record["wall"]) * 1000)
            if tried is not None:
                to_try.append((tried.timestamp() - created.timestamp()) * 1000)
                to_accept.append((at - tried.timestamp()) * 1000)
    rtts = [r["rtt"] * 1000 for r in calls]
    return {
        "calls": len(calls),
        "measured": len(total),
        "missing": missing,
        "p50_ms": pct(total, 50),
        "p90_ms": pct(total, 90),
        "p99_ms": pct(total, 99),
        "max_ms": max(total) if total else float("nan"),
        "over_1s": sum(1 for x in total if x > 1000),
        "enqueue_p50_ms": pct(to_enqueue, 50),
        "enqueue_p99_ms": pct(to_enqueue, 99),
        "to_delivery_p50_ms": pct(to_try, 50),
        "to_delivery_p99_ms": pct(to_try, 99),
        "deliver_p50_ms": pct(to_accept, 50),
        "deliver_p99_ms": pct(to_accept, 99),
        "call_rtt_p50_ms": pct(rtts, 50),
        "call_rtt_p99_ms": pct(rtts, 99),
    }
