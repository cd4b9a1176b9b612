"""User accounts: profile, roles and admin user management."""
