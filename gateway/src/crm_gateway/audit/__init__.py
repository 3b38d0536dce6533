"""The audit trail: who called what, when, from where, with what outcome, and its reading by admins."""
