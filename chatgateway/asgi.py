import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatgateway.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: E402

from core.bodylimit import RequestBodyLimit  # noqa: E402  (settings must be configured first)
from core.lanes import ByLane, RelayLaneHandler  # noqa: E402
from core.metrics import ObserveRequests  # noqa: E402
from core.request_end import RunAtRequestEnd  # noqa: E402
from core.requestid import RequestIds  # noqa: E402
from quota.leases import start_sweeper  # noqa: E402
from relay.outbox import take_up_leftovers  # noqa: E402

# The body size limit is enforced before Django reads a byte of the body (core/bodylimit.py);
# streams whose response never started are settled when their request ends (core/request_end.py);
# the relay's endpoints skip Django's middleware chain and its thread per request (core/lanes.py).
application = RequestBodyLimit(RunAtRequestEnd(ByLane(relay=RelayLaneHandler(), default=django_application)))
# Every request is counted, on both lanes, streams to their end (core/metrics.py)...
if settings.CHATGATEWAY_METRICS:
    application = ObserveRequests(application)
# ...and given its id, in front of all the rest so that every response carries it (core/requestid.py). The
# id trusts the connecting peer, so the proxy headers are applied after it, here, not by uvicorn (`serve`
# and `rungateway` turn uvicorn's off): the same FORWARDED_ALLOW_IPS, the same uvicorn middleware.
application = RequestIds(
    ProxyHeadersMiddleware(application, trusted_hosts=settings.FORWARDED_ALLOW_IPS),
    trusted=settings.FORWARDED_ALLOW_IPS,
)

# Each server process settles the reservations of requests that a killed process lost (quota/leases.py),
# and applies what such a process left in the outbox (relay/outbox.py), even if no request comes to it.
start_sweeper()
take_up_leftovers()
