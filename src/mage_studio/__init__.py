"""Mage Studio API: an AI video studio backend."""

__version__ = "0.1.0"
