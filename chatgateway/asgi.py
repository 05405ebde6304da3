import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
django_application = get_asgi_application()

from core.bodylimit import RequestBodyLimit  # noqa: E402  (settings must be configured first)
from core.lanes import ByLane, RelayLaneHandler  # noqa: E402
from core.request_end import RunAtRequestEnd  # noqa: E402

# The body size limit is enforced before Django reads a byte of the body (core/bodylimit.py);
# streams whose response never started are settled when their request ends (core/request_end.py);
# the relay's endpoints skip Django's middleware chain and its thread per request (core/lanes.py).
application = RequestBodyLimit(RunAtRequestEnd(ByLane(relay=RelayLaneHandler(), default=django_application)))
