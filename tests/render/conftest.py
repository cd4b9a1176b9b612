"""Fixtures for render tests: real-world samples (optional) and generated media."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from render_factories import samples_dir


def _locate(folder: str, name: str) -> Path:
    path = samples_dir() / folder / name
    if not path.is_file():
        pytest.skip(f"{folder}/{name} not found in MAGE_SAMPLES_DIR ({samples_dir()})")
    return path


@pytest.fixture
def sample_media() -> Callable[[str], Path]:
    """Return a function that locates a real-world media sample or skips the test."""
    return lambda name: _locate("media", name)


@pytest.fixture
def sample_settings() -> Callable[[str], Path]:
    """Return a function that locates a saved Deforum settings file or skips."""
    return lambda name: _locate("deforum", name)
