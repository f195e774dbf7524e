from django.urls import path

from hallq.web import views

app_name = "web"

urlpatterns = [
    path("", views.index, name="index"),
    path("kiosk/<int:hall_id>/", views.kiosk, name="kiosk"),
    path("display/<int:hall_id>/", views.display, name="display"),
    path("counter/", views.counter, name="counter"),
    path("t/<int:ticket_id>/", views.ticket, name="ticket"),
    path("t/<int:ticket_id>/qr.svg", views.ticket_qr, name="ticket-qr"),
    path("progress/", views.progress, name="progress"),
    path("progress/<int:hall_id>/", views.progress_hall, name="progress-hall"),
]
