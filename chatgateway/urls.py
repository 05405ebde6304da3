from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import TokenBlacklistView, TokenObtainPairView, TokenRefreshView, TokenVerifyView
from apikeys.views import APIKeyDetailView, APIKeyListView
from chatapi.views import AskView, TokenView
from chatgateway.health import healthz
from chatgateway.metrics import metrics
from quota.views import QuotaView
from relay.views import ChatView
from usage.views import UsageView

urlpatterns = [
    # The original ChatAPI, unchanged for its clients.
    path("token", TokenView.as_view(), name="chatapi-token"),
    path("api", AskView.as_view(), name="chatapi-ask"),
    path("api/", AskView.as_view()),
    # The DRF API.
    path("api/token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("api/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("api/token/verify/", TokenVerifyView.as_view(), name="token-verify"),
    path("api/token/blacklist/", TokenBlacklistView.as_view(), name="token-blacklist"),  # log out a refresh token
    path("api/chat/", ChatView.as_view(), name="chat"),
    path("api/quota/", QuotaView.as_view(), name="quota"),
    path("api/usage/", UsageView.as_view(), name="usage"),
    path("api/keys/", APIKeyListView.as_view(), name="api-keys"),
    path("api/keys/<int:pk>/", APIKeyDetailView.as_view(), name="api-key"),
    path("api/conversations/", include("conversations.urls")),
    path("api-auth/", include("rest_framework.urls")),  # log in/out links of the browsable API
    # The OpenAI-compatible API, for OpenAI's SDKs and every tool built on them.
    path("v1/", include("openai_api.urls")),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),  # Prometheus' (chatgateway/metrics.py)
    path("admin/", admin.site.urls),
    # The OpenAPI schema of the APIs, and Swagger UI to read and try it.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its start-up script is served as a file (/api/docs/?script), not inline: the pages' Content-Security-Policy
    # runs no inline script (docs/security.md).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="chatgateway/swagger_ui.html"),
        name="swagger-ui",
    ),
    path("sso/", include("sso.urls")),  # single sign-on through an OpenID Connect provider (sso/)
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switch
    path("", include("web.urls")),  # the web chat page at /
]

handler404 = "core.errors.page_not_found"

handler500 = "core.errors.server_error"  # a database outage is a 503 outside DRF too
