from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "hallq.web"
    verbose_name = "页面 Pages"
