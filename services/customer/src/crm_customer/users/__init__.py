"""The people who use the CRM, as the gateway announces them: who may own customers, who may approve."""
