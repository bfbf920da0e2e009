import logging
import sys

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("basketry.startup")


class ShopsConfig(AppConfig):
    name = "shops"
    verbose_name = "Shops and their data"

    def ready(self) -> None:
        mode = settings.BASKETRY_MODE
        embedded = mode["database"] == "sqlite" and mode["cache"] == "in-process"
        logger.info(
            "Basketry started in %s mode: database=%s, cache=%s, celery=%s",
            "embedded" if embedded else "services",
            mode["database"],
            mode["cache"],
            mode["celery"],
        )
        if settings.USING_INSECURE_SECRET_KEY and not embedded and "pytest" not in sys.modules:
            logger.warning("SECRET_KEY is not set: using the insecure development key.")
