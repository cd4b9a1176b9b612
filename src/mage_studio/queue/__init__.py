"""The render queue: claims, leases, heartbeats, the reaper, placement and ETA."""
