"""A hall to hang notifications on (the queue's factories sit above this layer)."""

from __future__ import annotations

from hallq.halls.models import Hall, Organisation


def make_hall(name: str = "测试大厅") -> Hall:
    organisation = Organisation.objects.create(name=f"{name}所属机构")
    return Hall.objects.create(organisation=organisation, name=name)
