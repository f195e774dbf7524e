from django.apps import AppConfig


class HallsConfig(AppConfig):
    name = "hallq.halls"
    verbose_name = "大厅 Halls"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from hallq.common.memo import forget_all
        from hallq.halls import models

        # What the memos of this process remember (tokens' principals, services, the services
        # of counters) comes from these rows; a change here forgets them all at once. Counters'
        # own rows are not among them: they change on every call.
        for model in (
            models.Hall,
            models.Service,
            models.CounterService,
            models.HallMembership,
            models.DeviceToken,
            models.StaffToken,
            get_user_model(),
        ):
            post_save.connect(forget_all, sender=model, dispatch_uid=f"memo-{model.__name__}")
            post_delete.connect(forget_all, sender=model, dispatch_uid=f"memo-del-{model.__name__}")
