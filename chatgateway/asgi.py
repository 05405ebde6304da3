import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
django_application = get_asgi_application()

from chatgateway.bodylimit import RequestBodyLimit  # noqa: E402  (settings must be configured first)
from chatgateway.request_end import RunAtRequestEnd  # noqa: E402

# The body size limit is enforced before Django reads a byte of the body (chatgateway/bodylimit.py);
# streams whose response never started are settled when their request ends (chatgateway/request_end.py).
application = RequestBodyLimit(RunAtRequestEnd(django_application))
