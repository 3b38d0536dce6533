"""Every suite runs in the test environment, where the built-in development secrets are accepted
(outside it a process refuses to start with them: crm_chassis.settings)."""

import os

os.environ.setdefault("CRM_ENVIRONMENT", "test")
