"""Partner webhooks: subscriptions to the services' public events, signed deliveries, retries.

The gateway follows the three services' event feeds, writes one delivery per matching active
subscription in the same transaction as the feed cursor (exactly once), and a dispatcher sends
due deliveries with Standard Webhooks signatures. docs/security.md, "Webhooks", has the contract.
"""
