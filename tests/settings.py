"""Test settings: openesp's settings with a throw-away data directory.

Loopback test servers (aiosmtpd, local HTTP servers standing in for SendGrid and Mailjet)
need the private-host guard relaxed and their ports allowed; tests that prove the guard
turn these back off with the ``settings`` fixture.
"""

import os
import tempfile

os.environ.setdefault("OPENESP_DATA_DIR", tempfile.mkdtemp(prefix="openesp-test-"))
os.environ.setdefault("OPENESP_ALLOW_PRIVATE_SMTP_HOSTS", "true")
os.environ.setdefault("OPENESP_SMTP_ALLOW_ANY_PORT", "true")

from openesp.settings import *  # noqa: F403

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# A file, not SQLite's in-memory default, so that worker processes started by the crash
# tests see the same test database.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405

PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher"]
