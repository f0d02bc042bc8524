"""The compatible routes, mounted at the site's root (SendGrid's and Mailjet's own paths)."""

from __future__ import annotations

from django.urls import path, re_path

from openesp.compat.views import mailjet, sendgrid

urlpatterns = [
    path("v3/mail/send", sendgrid.mail_send),
    path("v3/mail/batch", sendgrid.mail_batch),
    path("v3/mail/batch/<str:batch_id>", sendgrid.mail_batch_detail),
    path("v3/user/scheduled_sends", sendgrid.scheduled_sends),
    path("v3/user/scheduled_sends/<str:batch_id>", sendgrid.scheduled_send),
    re_path(r"^v3/(?P<rest>.*)$", sendgrid.not_found),
    path("v3.1/send", mailjet.send),
]
