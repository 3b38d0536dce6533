"""Reads the gateway assembles from several services at once: the customer overview."""
