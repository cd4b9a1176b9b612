"""Video jobs: uploads, previews, full renders, their catalogs and state machine."""
