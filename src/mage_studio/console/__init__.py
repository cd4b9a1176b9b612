"""The DeforumationQT web console: a static page served by the API."""
