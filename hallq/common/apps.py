from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "hallq.common"
