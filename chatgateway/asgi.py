import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
django_application = get_asgi_application()

from chatgateway.bodylimit import RequestBodyLimit  # noqa: E402  (settings must be configured first)

# The body size limit is enforced before Django reads a byte of the body (see chatgateway/bodylimit.py).
application = RequestBodyLimit(django_application)
