"""Motion preset catalog."""

from __future__ import annotations

import pytest

from mage_studio.render.deforum import validate_settings
from mage_studio.render.presets import PRESETS, preset_catalog, preset_settings


def test_catalog_names() -> None:
    names = [preset.name for preset in preset_catalog()]

    expected = {
        "static",
        "zoom-in",
        "zoom-out",
        "orbit-left",
        "orbit-right",
        "pan-left",
        "pan-right",
        "drift",
    }
    assert expected <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_settings_validate(name: str) -> None:
    assert validate_settings(preset_settings(name), frame_count=480) == []


def test_preset_settings_are_copies() -> None:
    settings = preset_settings("zoom-in")
    settings["zoom"] = "0:(5)"

    assert preset_settings("zoom-in")["zoom"] == "0:(1.02)"


def test_unknown_preset_names_known_ones() -> None:
    with pytest.raises(KeyError, match="zoom-in"):
        preset_settings("teleport")
