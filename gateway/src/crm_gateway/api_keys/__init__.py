"""Partner systems' API keys: issued once, kept hashed, scoped, revocable."""
