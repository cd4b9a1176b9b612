"""Authentication: tokens, passwords, social providers, password reset."""
