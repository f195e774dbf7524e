from django.apps import AppConfig


class OfficialAccountConfig(AppConfig):
    name = "hallq.officialaccount"
    verbose_name = "公众号 Official account"

    def ready(self) -> None:
        from hallq.common import worker
        from hallq.officialaccount.callback import callback_receipts_prune
        from hallq.officialaccount.pushes import run_queue_pushes, wake
        from hallq.realtime.services import after_commit_hooks

        # Its own loop, a few times a second: a call message must arrive while it matters.
        worker.register_loop("queue_pushes", run_queue_pushes)
        after_commit_hooks.append(wake)
        worker.register(
            "callback_receipts_prune",
            lambda now: callback_receipts_prune(now=now),
            every_seconds=3600,
        )
