"""Validation of studio options: ranges, client field names, conflicting fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mage_studio.render.studio.options import (
    AudioOptions,
    CompositionOptions,
    ConcatOptions,
    ExportOptions,
    db_to_gain,
    parse_color,
)


def error_fields(error: ValidationError) -> set[str]:
    return {".".join(str(part) for part in item["loc"]) for item in error.errors()}


def test_export_defaults() -> None:
    options = ExportOptions.model_validate({})

    assert options.aspect == "original"
    assert options.fit == "crop"
    assert options.focus is None
    assert options.max_height is None
    assert options.watermark is None


def test_export_reads_client_names() -> None:
    options = ExportOptions.model_validate(
        {"aspect": "9:16", "maxHeight": 720, "focus": {"x": 0.2, "y": 1}}
    )

    assert options.max_height == 720
    assert options.focus is not None
    assert options.focus.x == 0.2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aspect": "4:3"}, "aspect"),
        ({"maxHeight": 100}, "maxHeight"),
        ({"maxHeight": 4320}, "maxHeight"),
        ({"focus": {"x": 1.5}}, "focus.x"),
        ({"fit": "pad", "focus": {"x": 0.1}}, "focus"),
        ({"fit": "crop", "background": {"type": "color"}}, "background"),
        ({"fit": "pad", "background": {"color": "red"}}, "background.color"),
        ({"watermark": {"opacity": 2}}, "watermark.opacity"),
        ({"watermark": {"position": "middle"}}, "watermark.position"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_export_rejects(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ExportOptions.model_validate(body)

    assert field in error_fields(caught.value)


def test_colors_are_normalised() -> None:
    options = ExportOptions.model_validate(
        {"fit": "pad", "background": {"type": "color", "color": " #ABC "}}
    )

    assert options.background.color == "#aabbcc"
    assert parse_color(options.background.color) == (0xAA, 0xBB, 0xCC)


def test_composition_rejects_options_of_other_layout() -> None:
    with pytest.raises(ValidationError) as caught:
        CompositionOptions.model_validate(
            {"layout": "wipe", "crossfade": {"seconds": 1}}
        )

    assert error_fields(caught.value) == {"crossfade"}


def test_composition_stores_only_its_layout() -> None:
    options = CompositionOptions.model_validate(
        {"layout": "side-by-side", "sideBySide": {"gap": 4}}
    )

    stored = options.stored()

    assert stored["sideBySide"]["gap"] == 4
    assert "wipe" not in stored
    assert "crossfade" not in stored
    assert "pip" not in stored
    assert CompositionOptions.model_validate(stored) == options


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"layout": "mosaic"}, "layout"),
        ({}, "layout"),
        ({"layout": "wipe", "wipe": {"period": 0.1}}, "wipe.period"),
        ({"layout": "crossfade", "crossfade": {"seconds": 0}}, "crossfade.seconds"),
        ({"layout": "pip", "pip": {"scale": 0.9}}, "pip.scale"),
        ({"layout": "pip", "pip": {"corner": "center"}}, "pip.corner"),
        ({"layout": "side-by-side", "sideBySide": {"gap": 99}}, "sideBySide.gap"),
    ],
)
def test_composition_rejects(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CompositionOptions.model_validate(body)

    assert field in error_fields(caught.value)


def test_concat_rejects_zero_fps() -> None:
    with pytest.raises(ValidationError) as caught:
        ConcatOptions.model_validate({"fps": 0})

    assert error_fields(caught.value) == {"fps"}


def test_audio_levels_from_gain_or_db() -> None:
    options = AudioOptions.model_validate(
        {"mode": "mix", "soundtrackDb": -6, "originalGain": 0.5}
    )

    assert options.soundtrack_level == pytest.approx(0.501, abs=1e-3)
    assert options.original_level == 0.5


def test_audio_default_levels_are_unity() -> None:
    options = AudioOptions.model_validate({"mode": "mix"})

    assert options.soundtrack_level == 1.0
    assert options.original_level == 1.0


def test_audio_rejects_gain_and_db_together() -> None:
    with pytest.raises(ValidationError) as caught:
        AudioOptions.model_validate({"soundtrackGain": 1, "soundtrackDb": -3})

    assert error_fields(caught.value) == {"soundtrackDb"}
    assert "not both" in caught.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"soundtrackGain": 2.5}, "soundtrackGain"),
        ({"originalDb": 12}, "originalDb"),
        ({"fadeIn": -1}, "fadeIn"),
        ({"fit": "stretch"}, "fit"),
        ({"mode": "karaoke"}, "mode"),
    ],
)
def test_audio_rejects(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AudioOptions.model_validate(body)

    assert field in error_fields(caught.value)


def test_db_to_gain() -> None:
    assert db_to_gain(0) == 1.0
    assert db_to_gain(6) == pytest.approx(1.995, abs=1e-3)
    assert db_to_gain(-60) == 0.0
