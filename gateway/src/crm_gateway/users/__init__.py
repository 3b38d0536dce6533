"""People who use the CRM: their accounts, roles and teams, managed by admins."""
