"""Worker side of rendering: media io, Deforum schedules, backends and pipelines.

Nothing in this package imports server code (database, web framework, auth), so a
GPU worker machine installs only the media and HTTP client libraries.
"""
