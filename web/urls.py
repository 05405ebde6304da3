from django.contrib.auth.views import LogoutView
from django.urls import path
from django.views.i18n import JavaScriptCatalog

from web.views import account, home

app_name = "web"

urlpatterns = [
    path("", home, name="home"),
    path("account/", account, name="account"),  # limits, usage, API keys, password
    path("logout/", LogoutView.as_view(next_page="web:home"), name="logout"),
    # The page's own strings (locale/*/LC_MESSAGES/djangojs.po), for gettext() in its JavaScript.
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["web"]), name="javascript-catalog"),
]
