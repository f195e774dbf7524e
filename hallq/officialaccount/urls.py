"""The official account's endpoints outside /api/v1 (mounted at the site's root)."""

from django.urls import path

from hallq.officialaccount import views

app_name = "officialaccount"

urlpatterns = [
    path("wechat/callback", views.callback, name="callback"),
    path("wechat/oauth/start", views.oauth_start, name="oauth-start"),
    path("wechat/oauth/callback", views.oauth_callback, name="oauth-callback"),
]
