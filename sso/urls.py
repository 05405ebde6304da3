from django.urls import path

from sso.views import AuthenticationCallbackView, AuthenticationRequestView

app_name = "sso"

urlpatterns = [
    path("login/", AuthenticationRequestView.as_view(), name="login"),
    path("callback/", AuthenticationCallbackView.as_view(), name="callback"),
]
