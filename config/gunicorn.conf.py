"""gunicorn for production, behind the buffering nginx of config/nginx.conf (docs/OPERATIONS.md).

    gunicorn -c config/gunicorn.conf.py config.wsgi:application

Threaded workers, because requests mostly wait on PostgreSQL and Redis. gunicorn's threaded
worker gives a connection whose request has not arrived back to its poller, but a request body
is still read by a thread, at the client's pace. nginx reads every request in full in its event
loop (where a slow client costs a little memory, not a thread) before passing it on, and drops
clients that stall: that is why gunicorn listens on the loopback only and the internet talks to
nginx.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One process per core is enough for a workload that waits on I/O; threads give the concurrency.
workers = int(os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 2)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A request running longer than this is stuck (every query and cache call has a far shorter
# bound): the worker is replaced.
timeout = 30
# A deploy lets requests in flight finish first.
graceful_timeout = 30
# nginx keeps connections to gunicorn open (upstream keepalive); a little longer than its idle time.
keepalive = 75
# Request lines and headers larger than any storefront, webhook or dashboard request needs.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Recycle workers now and then so that a slow leak never grows for weeks; jitter keeps the
# workers from restarting all at once.
max_requests = 5000
max_requests_jitter = 500
# Only nginx on the same host may set X-Forwarded-* headers.
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"
