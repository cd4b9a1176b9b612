"""Realtime: job event streams (SSE), the processing overview and live steering."""
