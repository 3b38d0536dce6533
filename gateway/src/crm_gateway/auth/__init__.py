"""Who is calling and whether they may: sign-in and its tokens, the principal of every request,
the role and scope table, rate limits."""
