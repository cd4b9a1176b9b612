"""Route modules of the administration API, grouped by what they manage."""
