"""Frequently asked questions, published by administrators."""
