"""Liveness, readiness and metrics of the gateway process."""
