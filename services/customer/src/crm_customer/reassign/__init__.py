"""Hand-over: every customer of one account manager given to another, as a job with progress."""
