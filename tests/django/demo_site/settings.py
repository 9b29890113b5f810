"""Settings of a minimal project built on django-open-humans, as its documentation
describes, pointed at an openhumans server by environment variables:

- DEMO_DATA_DIR: directory of the SQLite database;
- DEMO_SECRET_KEY: Django's secret key;
- OPENHUMANS_APP_BASE_URL: this app's own base URL, e.g. http://127.0.0.1:8001;
- OPENHUMANS_OH_BASE_URL: the openhumans server, e.g. http://127.0.0.1:8000;
- OPENHUMANS_CLIENT_ID, OPENHUMANS_CLIENT_SECRET: the project's credentials;
- OPENHUMANS_WEBHOOK_SECRET: the project's webhook secret;
- OHAPI_OH_BASE_URL: read by open-humans-api itself when it is imported, because
  some of the package's calls do not pass a base URL.

The package's own settings keep their defaults: an erasure request deletes the
member (OPENHUMANS_DELETE_ON_ERASURE), a plain withdrawal only marks it
(OPENHUMANS_DELETE_ON_DEAUTH off), and deleting a member first calls the server's
remove-members API with the member's token (OPENHUMANS_DEAUTH_ON_DELETE).
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"the environment variable {name} is not set")
    return value


# open-humans-api reads this one itself. It is checked here so that a missing value
# fails at start instead of sending calls to the public Open Humans site.
env("OHAPI_OH_BASE_URL")

SECRET_KEY = env("DEMO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "openhumans",
    "main",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "demo_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(env("DEMO_DATA_DIR")) / "demo.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

# Errors and their tracebacks go to standard error, into the runserver output.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}

OPENHUMANS_APP_BASE_URL = env("OPENHUMANS_APP_BASE_URL")
OPENHUMANS_OH_BASE_URL = env("OPENHUMANS_OH_BASE_URL")
OPENHUMANS_CLIENT_ID = env("OPENHUMANS_CLIENT_ID")
OPENHUMANS_CLIENT_SECRET = env("OPENHUMANS_CLIENT_SECRET")
OPENHUMANS_WEBHOOK_SECRET = env("OPENHUMANS_WEBHOOK_SECRET")
# Where the package's complete view sends a member after logging them in, or after
# a failed code exchange.
OPENHUMANS_LOGIN_REDIRECT_URL = "/"
OPENHUMANS_LOGOUT_REDIRECT_URL = "/"
