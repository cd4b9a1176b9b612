"""Social login: providers, token checks and linked accounts."""
