"""Marketing campaigns: a target over the customer archive, its members, their responses, the report."""
