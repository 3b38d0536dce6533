"""The scoring mathematics: pure numpy/scipy functions, no database, no web framework."""
