from django.urls import path, re_path

from hallq.web import citizen_views, views

app_name = "web"

urlpatterns = [
    path("", views.index, name="index"),
    path("kiosk/<int:hall_id>/", views.kiosk, name="kiosk"),
    path("display/<int:hall_id>/", views.display, name="display"),
    path("counter/", views.counter, name="counter"),
    path("t/<int:ticket_id>/", views.ticket, name="ticket"),
    path("t/<int:ticket_id>/qr.svg", views.ticket_qr, name="ticket-qr"),
    path("t/<int:ticket_id>/wechat-qr.svg", views.ticket_wechat_qr_svg, name="ticket-wechat-qr"),
    path("progress/", views.progress, name="progress"),
    path("progress/<int:hall_id>/", views.progress_hall, name="progress-hall"),
    path("book/", citizen_views.book, name="book"),
    path("book/sign-in/", citizen_views.book, {"step": "sign-in"}, name="book-sign-in"),
    path("book/register/", citizen_views.book, {"step": "register"}, name="book-register"),
    path("book/agreement/", citizen_views.book, {"step": "agreement"}, name="book-agreement"),
    path("book/<int:hall_id>/", citizen_views.book_hall, name="book-hall"),
    path("book/<int:hall_id>/<int:service_id>/", citizen_views.book_service, name="book-service"),
    path(
        "book/<int:hall_id>/<int:service_id>/confirm/",
        citizen_views.book_service,
        {"step": "confirm"},
        name="book-confirm",
    ),
    path("me/", citizen_views.my_appointments, name="me"),
    path("me/ticket/", citizen_views.my_ticket, name="my-ticket"),
    path("halls/nearby/", citizen_views.halls_nearby, name="halls-nearby"),
    path("me/appointments/<int:appointment_id>/", citizen_views.appointment, name="appointment"),
    re_path(r"^qr/booking/(?P<code>[0-9]{10})\.svg$", citizen_views.booking_qr, name="booking-qr"),
]
