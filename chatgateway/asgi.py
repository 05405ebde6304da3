import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
django_application = get_asgi_application()

from core.bodylimit import RequestBodyLimit  # noqa: E402  (settings must be configured first)
from core.lanes import ByLane, RelayLaneHandler  # noqa: E402
from core.request_end import RunAtRequestEnd  # noqa: E402
from quota.leases import start_sweeper  # noqa: E402
from relay.outbox import take_up_leftovers  # noqa: E402

# The body size limit is enforced before Django reads a byte of the body (core/bodylimit.py);
# streams whose response never started are settled when their request ends (core/request_end.py);
# the relay's endpoints skip Django's middleware chain and its thread per request (core/lanes.py).
application = RequestBodyLimit(RunAtRequestEnd(ByLane(relay=RelayLaneHandler(), default=django_application)))

# Each server process settles the reservations of requests that a killed process lost (quota/leases.py),
# and applies what such a process left in the outbox (relay/outbox.py), even if no request comes to it.
start_sweeper()
take_up_leftovers()
