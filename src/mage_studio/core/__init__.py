"""Shared plumbing: database, routing, pagination, storage, security, mail, events."""
