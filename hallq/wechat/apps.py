from django.apps import AppConfig


class WechatConfig(AppConfig):
    name = "hallq.wechat"
    verbose_name = "微信接口 WeChat"
