"""Hot reads as prepared statements (``fetch_all``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext

from hallq.common.db import array_literal, attach_related, fetch_all, instance_from_row
from hallq.common.testing import prepared_plans

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="statements are prepared, and their results read in binary, on PostgreSQL only",
)


SQL = "SELECT n, n * 2 FROM (SELECT 20 AS n UNION ALL SELECT 21) AS numbers WHERE n >= %s"


def test_it_answers_what_a_plain_execution_answers_and_is_logged_as_django_logs():
    with connection.cursor() as cursor:
        cursor.execute(SQL, [21])
        expected = cursor.fetchall()

    with CaptureQueriesContext(connection) as captured:
        rows = [fetch_all(SQL, [21]) for _ in range(3)]

    assert rows == [expected] * 3 == [[(21, 42)]] * 3
    logged = SQL.replace("%s", "21")
    assert [query["sql"] for query in captured.captured_queries] == [logged] * 3


@ON_POSTGRESQL
def test_on_postgresql_the_statement_is_prepared_once_per_connection():
    for minimum in (20, 21, 20, 22):
        fetch_all(SQL, [minimum])

    assert len(prepared_plans("AS numbers")) == 1


@ON_POSTGRESQL
def test_on_postgresql_every_connection_plans_prepared_statements_once():
    other = connections.create_connection(DEFAULT_DB_ALIAS)  # another thread's, say
    try:
        for each in (connection, other):
            with each.cursor() as cursor:
                cursor.execute("SHOW plan_cache_mode")
                assert cursor.fetchone() == ("force_generic_plan",)
    finally:
        other.close()


@ON_POSTGRESQL
def test_with_prepared_reads_off_nothing_is_prepared(settings):
    settings.HALLQ_PREPARED_READS = False

    for minimum in (20, 21, 20, 21, 20, 21):
        assert fetch_all(SQL.replace("AS numbers", "AS unprepared"), [minimum])

    assert prepared_plans("AS unprepared") == []


@ON_POSTGRESQL
def test_on_postgresql_the_hot_reads_column_types_come_as_django_reads_them():
    """``fetch_all`` asks for binary results; every type the hot reads hold comes back as
    Django's own (text) reading of it gives it: equal, of the same type, and times aware in
    ``datetime.UTC`` exactly."""
    at = datetime(2026, 2, 14, 1, 30, 15, 123456, tzinfo=UTC)
    sql = (
        "SELECT %s::timestamptz, %s::timestamptz AT TIME ZONE 'UTC', %s::date, %s::bigint, "
        "%s::integer, %s::smallint, %s::boolean, %s::text, %s::varchar(20), %s::bytea, "
        "%s::numeric(9, 6), NULL::timestamptz, NULL::bigint, "
        "(SELECT count(*) FROM (VALUES (1), (2)) AS two (n)), EXISTS (SELECT 1)"
    )
    params: list[Any] = [at, at, at.date(), 2**40, 7, 3, True, "A001", "请到 3 号窗口"]
    params += [b"\x00\xff", "39.904200"]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expected = cursor.fetchall()

    rows = fetch_all(sql, params)

    assert rows == expected
    assert [type(value) for value in rows[0]] == [type(value) for value in expected[0]]
    assert rows[0][0].tzinfo is expected[0][0].tzinfo is UTC


def row_of(instance: Any) -> list[Any]:
    return [getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields]


def test_an_instance_from_a_row_is_what_the_orm_makes_of_it():
    from django.contrib.auth.models import Group, Permission

    group = Group.objects.create(name="counter staff")
    permission = Permission.objects.select_related("content_type").earliest("pk")

    for original in (group, permission):
        model = type(original)
        read = model.objects.get(pk=original.pk)
        built = instance_from_row(model, row_of(read))

        assert type(built) is model
        assert {k: v for k, v in built.__dict__.items() if k != "_state"} == {
            k: v for k, v in read.__dict__.items() if k not in {"_state"}
        }
        assert (built._state.adding, built._state.db) == (False, DEFAULT_DB_ALIAS)
        assert built == read
    # It behaves as a read one: a foreign key is followed, a change saved.
    built_permission = instance_from_row(Permission, row_of(permission))
    assert built_permission.content_type == permission.content_type
    built_group = instance_from_row(Group, row_of(group))
    built_group.name = "counter leads"
    built_group.save(update_fields=["name"])
    assert Group.objects.get(pk=group.pk).name == "counter leads"


def test_a_model_with_init_listeners_is_built_by_its_init():
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="kiosk")
    seen: list[Any] = []

    def initialised(sender: Any, instance: Any, **_kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(initialised, sender=Group)
    try:
        built = instance_from_row(Group, row_of(group))
    finally:
        post_init.disconnect(initialised, sender=Group)

    assert seen == [built]


def test_a_related_object_attached_is_as_if_assigned():
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    permission = Permission.objects.earliest("pk")
    other = ContentType.objects.exclude(pk=permission.content_type_id).earliest("pk")
    assigned = Permission.objects.get(pk=permission.pk)
    assigned.content_type = other
    attached = Permission.objects.get(pk=permission.pk)
    attached.content_type  # noqa: B018 (remembers the old one, which attaching replaces)

    attach_related(attached, "content_type", other)

    assert attached.content_type_id == other.pk == assigned.content_type_id
    assert attached.content_type is other
    assert attached._state.fields_cache == assigned._state.fields_cache
    with pytest.raises(ValueError, match="not a foreign key"):
        attach_related(attached, "codename", other)


@ON_POSTGRESQL
def test_on_postgresql_an_array_literal_is_the_array_of_its_values():
    values = [3, None, 2**40, -7]

    rows = fetch_all(
        "SELECT %s::bigint[], %s::integer[], %s::bigint[]",
        [array_literal(values), array_literal(v for v in (1, None)), array_literal([])],
    )

    assert rows == [(values, [1, None], [])]
