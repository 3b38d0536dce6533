"""The way to the services: the routing table, one pooled client and circuit breaker per upstream,
the headers that cross, and the streaming proxy of every routed `/api/v1` path."""
