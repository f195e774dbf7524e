from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "hallq.realtime"
    verbose_name = "实时事件 Events"
