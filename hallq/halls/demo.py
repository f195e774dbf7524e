"""The demo organisation that `make run` loads: realistic enough to try every page."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from hallq.halls.auth import device_token_issue
from hallq.halls.models import (
    Counter,
    CounterService,
    DeviceKind,
    DeviceToken,
    Hall,
    HallMembership,
    Organisation,
    Service,
)


@dataclass(frozen=True)
class ServiceSpec:
    prefix: str
    name: str
    average_seconds: int
    guide: str


SERVICES = [
    ServiceSpec(
        "A", "综合业务", 240, "户籍证明、居住证、各类证明开具等综合事项。请携带本人身份证。"
    ),
    ServiceSpec(
        "B", "社保医保", 300, "社保参保登记、医保关系转移、待遇申领。请携带身份证和社保卡。"
    ),
    ServiceSpec(
        "C",
        "不动产登记",
        600,
        "不动产转移、抵押、变更登记及查询。请携带不动产权证书、身份证和合同原件。",
    ),
    ServiceSpec(
        "D", "出入境", 420, "护照、往来港澳台通行证申领与签注。请携带身份证，现场免费拍照。"
    ),
    ServiceSpec("E", "公积金", 360, "住房公积金提取、贷款咨询、缴存变更。请携带身份证和银行卡。"),
]

# Which services each counter serves, in priority order: specialists first, then all-rounders.
COUNTER_LAYOUTS = {
    8: ["A", "A", "BA", "C", "C", "D", "E", "ABCDE"],
    10: ["A", "A", "B", "BA", "C", "C", "D", "E", "ABCDE", "ABCDE"],
    12: ["A", "A", "A", "B", "BA", "C", "C", "CA", "D", "E", "EB", "ABCDE"],
}

HALLS = [
    # district, hall name, address, GCJ-02 lat/lng, counters
    ("东城区", "东城区政务服务中心", "东城区建国门内大街18号", "39.906217", "116.428490", 12),
    ("西城区", "西城区政务服务中心", "西城区西直门南小街20号", "39.934101", "116.353430", 10),
    ("西城区", "西城区金融街服务分中心", "西城区金融大街9号", "39.915610", "116.360230", 8),
]


def _password() -> str:
    return secrets.token_urlsafe(9)


@transaction.atomic
def load_demo(credentials_path: Path) -> dict[str, Any]:
    """Create the demo organisation once; later runs keep the data and the credentials file."""
    if Hall.objects.exists() and credentials_path.exists():
        credentials: dict[str, Any] = json.loads(credentials_path.read_text())
        return credentials

    user_model = get_user_model()
    admin_password = _password()
    admin, _created = user_model.objects.get_or_create(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.set_password(admin_password)
    admin.save()

    region, _created = Organisation.objects.get_or_create(name="示范市政务服务管理局", parent=None)
    halls_out = []
    for index, (district_name, hall_name, address, lat, lng, counters) in enumerate(HALLS, 1):
        district, _created = Organisation.objects.get_or_create(name=district_name, parent=region)
        hall, _created = Hall.objects.get_or_create(
            name=hall_name,
            defaults={
                "organisation": district,
                "address": address,
                "latitude": Decimal(lat),
                "longitude": Decimal(lng),
            },
        )
        services = {}
        for order, spec in enumerate(SERVICES):
            service, _created = Service.objects.get_or_create(
                hall=hall,
                prefix=spec.prefix,
                defaults={
                    "name": spec.name,
                    "average_service_seconds": spec.average_seconds,
                    "guide": spec.guide,
                    "display_order": order,
                },
            )
            services[spec.prefix] = service
        for number, layout in enumerate(COUNTER_LAYOUTS[counters], 1):
            names = "、".join(services[p].name for p in layout) if len(layout) < 5 else "综合窗口"
            counter, _created = Counter.objects.get_or_create(
                hall=hall, number=number, defaults={"name": names}
            )
            for priority, prefix in enumerate(layout):
                CounterService.objects.get_or_create(
                    counter=counter, service=services[prefix], defaults={"priority": priority}
                )
        staff_out = []
        for n in (1, 2):
            username = f"hall{index}-staff{n}"
            password = _password()
            user, _created = user_model.objects.get_or_create(username=username)
            user.is_staff = True
            user.set_password(password)
            user.save()
            HallMembership.objects.get_or_create(user=user, hall=hall)
            staff_out.append({"username": username, "password": password})
        DeviceToken.objects.filter(hall=hall).delete()
        halls_out.append(
            {
                "id": hall.pk,
                "name": hall.name,
                "staff": staff_out,
                "kiosk_token": device_token_issue(
                    hall_id=hall.pk, kind=DeviceKind.KIOSK, name="大厅取号机 1"
                ),
                "display_token": device_token_issue(
                    hall_id=hall.pk, kind=DeviceKind.DISPLAY, name="叫号屏 1"
                ),
            }
        )
    credentials = {
        "admin": {"username": "admin", "password": admin_password},
        "halls": halls_out,
    }
    credentials_path.parent.mkdir(parents=True, exist_ok=True)
    credentials_path.write_text(json.dumps(credentials, ensure_ascii=False, indent=2))
    credentials_path.chmod(0o600)
    return credentials
