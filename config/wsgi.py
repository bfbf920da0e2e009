import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Before the first request: every view imported (the first answer of a new process would
# otherwise wait for them) and the likeliest shops' storefront loaded
# (recommendations/storefront/warm.py); then what is in memory now is left out of the garbage
# collector's full passes, which would otherwise walk every module object again and again.
from django.urls import get_resolver  # noqa: E402

from recommendations.storefront.warm import storefront_warm  # noqa: E402

get_resolver().resolve("/livez")
storefront_warm()
gc.freeze()
