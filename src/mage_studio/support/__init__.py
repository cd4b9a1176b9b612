"""Support requests (tickets): a thread of replies and staff-only internal notes."""
