"""The booking part of the demo: rules, weekly slots and the agreement (§3), once."""

from __future__ import annotations

from datetime import datetime, time

from django.db import transaction

from hallq.citizens.models import Agreement
from hallq.halls.models import Hall, Service
from hallq.scheduling.models import BookingRules, SlotTemplate

# Places per half hour, by service prefix.
QUOTAS = {"A": 6, "B": 4, "C": 2, "D": 3, "E": 4}
MORNING = [time(9, 0), time(9, 30), time(10, 0), time(10, 30), time(11, 0), time(11, 30)]
AFTERNOON = [
    time(13, 30),
    time(14, 0),
    time(14, 30),
    time(15, 0),
    time(15, 30),
    time(16, 0),
    time(16, 30),
]

AGREEMENT_TEXT = """\
一、预约成功后，请于预约时段开始前 60 分钟至时段结束后 15 分钟内，持本人身份证到大厅取号机签到取号。
二、不能按时到场的，请在预约时段开始前取消预约，名额将立即释放给其他群众。
三、90 天内累计 3 次预约未到（爽约），将被暂停网上预约资格 90 天；现场取号不受影响。
四、同一业务同一天只能预约一次，同时有效的预约最多 3 个。
五、您提供的姓名、身份证号和手机号仅用于办事预约和身份核验，加密存储，按规定期限保存。"""


def _half_hour_after(start: time) -> time:
    minutes = start.hour * 60 + start.minute + 30
    return time(minutes // 60, minutes % 60)


@transaction.atomic
def load_booking_demo(*, now: datetime) -> None:
    if not Agreement.objects.exists():
        Agreement.objects.create(
            version=1, title="网上预约服务协议", text=AGREEMENT_TEXT, published_at=now
        )
    for service in Service.objects.select_related("hall").filter(hall__in=Hall.objects.all()):
        if SlotTemplate.objects.filter(service=service).exists():
            continue
        # 不动产登记 books a week ahead; everything else the standard next day only.
        days_ahead = 7 if service.prefix == "C" else 1
        BookingRules.objects.get_or_create(
            service=service,
            defaults={"min_days_ahead": 1, "max_days_ahead": days_ahead},
        )
        quota = QUOTAS.get(service.prefix, 3)
        weekdays = [0, 1, 2, 3, 4]
        # The first hall also opens on Saturday mornings.
        saturday = service.hall_id == Hall.objects.order_by("pk").values_list("pk", flat=True)[0]
        rows = [
            SlotTemplate(
                service=service,
                weekday=weekday,
                start=start,
                end=_half_hour_after(start),
                quota=quota,
            )
            for weekday in weekdays
            for start in MORNING + AFTERNOON
        ]
        if saturday:
            rows += [
                SlotTemplate(
                    service=service,
                    weekday=5,
                    start=start,
                    end=_half_hour_after(start),
                    quota=quota,
                )
                for start in MORNING
            ]
        SlotTemplate.objects.bulk_create(rows)
