"""Deforum settings: merge, import of saved files, validation and prompts."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest

from mage_studio.render.deforum import (
    build_prompt_schedule,
    import_settings,
    merge_settings,
    parse_settings,
    validate_settings,
)
from mage_studio.render.errors import SettingsError


def test_merge_overrides_win_and_none_keeps_preset() -> None:
    preset = {"zoom": "0:(1.02)", "angle": "0:(1)"}

    merged = merge_settings(
        preset, {"zoom": "0:(0.98)", "angle": None, "noise_schedule": "0:(0)"}
    )

    assert merged == {"zoom": "0:(0.98)", "angle": "0:(1)", "noise_schedule": "0:(0)"}
    assert preset == {"zoom": "0:(1.02)", "angle": "0:(1)"}


@pytest.mark.parametrize("raw", [True, "true", "True", "1", 1, "yes", "on"])
def test_booleans_in_saved_forms_true(raw: object) -> None:
    parsed = parse_settings({"enable_perspective_flip": raw})

    assert parsed.settings.enable_perspective_flip is True


@pytest.mark.parametrize("raw", [False, "false", "False", "0", 0, "no", "off", ""])
def test_booleans_in_saved_forms_false(raw: object) -> None:
    parsed = parse_settings({"enable_perspective_flip": raw})

    assert parsed.settings.enable_perspective_flip is False


def test_numbers_given_as_strings() -> None:
    parsed = parse_settings(
        {"diffusion_cadence": "2", "perlin_persistence": "0.25", "fps": "15"}
    )

    assert parsed.settings.diffusion_cadence == 2
    assert parsed.settings.noise.perlin_persistence == 0.25
    assert parsed.settings.fps == Fraction(15)


def test_unknown_keys_are_ignored_not_errors() -> None:
    parsed = parse_settings(
        {"zoom": "0:(1.01)", "sampler": "Euler a", "hybrid_motion": "None"}
    )

    assert parsed.ignored == ["hybrid_motion", "sampler"]
    assert parsed.settings.schedules["zoom"].text == "0:(1.01)"


def test_mode_specific_keys_reported() -> None:
    two_d = parse_settings(
        {"animation_mode": "2D", "rotation_3d_x": "0:(1)", "zoom": "0:(1)"}
    )
    three_d = parse_settings(
        {"animation_mode": "3D", "rotation_3d_x": "0:(1)", "zoom": "0:(1)"}
    )

    assert two_d.ignored == ["rotation_3d_x"]
    assert three_d.ignored == ["zoom"]


def test_invalid_values_listed_by_key() -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings(
            {
                "diffusion_cadence": "fast",
                "zoom": "0:(1/)",
                "border": "mirror",
                "perlin_octaves": 40,
                "enable_perspective_flip": "maybe",
                "W": 500,
            }
        )

    fields = {problem.field for problem in raised.value.problems}
    assert fields == {
        "diffusion_cadence",
        "zoom",
        "border",
        "perlin_octaves",
        "enable_perspective_flip",
        "W",
    }
    assert "invalid syntax" in str(raised.value)


def test_empty_schedule_keeps_default() -> None:
    parsed = parse_settings({"zoom": "  "})

    assert parsed.settings.schedules["zoom"].text == "0:(1.0)"


def test_job_schedules_absent_by_default() -> None:
    settings = parse_settings({}).settings

    assert settings.schedule("strength_schedule") is None
    assert settings.schedule("cfg_scale_schedule") is None
    assert settings.schedule("noise_schedule") is not None


def test_import_crlf_file_with_bom() -> None:
    document = {
        "zoom": "0: (1.0025+0.002*sin(1.25*3.14*t/30))",
        "translation_x": "0:(0), 30:(15), 210:(15), 300:(0)",
        "rotation_3d_z": "0:(0), 300:(0), 420:(0.5)",
        "diffusion_cadence": "2",
        "enable_perspective_flip": "False",
        "max_frames": 120,
        "prompts": {"0": "a castle", "60": "a forest --neg fog"},
        "restore_faces": False,
    }
    text = "\ufeff" + json.dumps(document, indent=4).replace("\n", "\r\n")

    imported = import_settings(text.encode("utf-8"))

    assert imported.ignored == ["restore_faces"]
    assert imported.settings["diffusion_cadence"] == 2
    assert imported.settings["enable_perspective_flip"] is False
    assert imported.settings["prompts"] == {"0": "a castle", "60": "a forest --neg fog"}
    assert imported.settings["translation_x"] == "0:(0), 30:(15), 210:(15), 300:(0)"
    assert json.loads(json.dumps(imported.settings)) == imported.settings


def test_import_rejects_non_object() -> None:
    with pytest.raises(SettingsError, match="not valid JSON"):
        import_settings("{zoom: 1}")
    with pytest.raises(SettingsError, match="JSON object"):
        import_settings("[1, 2]")


def test_import_prompts_as_json_text() -> None:
    imported = import_settings({"animation_prompts": '{"0": "sea", "10": "sky"}'})

    assert imported.settings["prompts"] == {"0": "sea", "10": "sky"}


def test_validate_finds_runtime_errors_in_range() -> None:
    settings = {"angle": "0:(1/(t-45))"}

    assert validate_settings(settings, frame_count=30) == []
    problems = validate_settings(settings, frame_count=60)
    assert [problem.field for problem in problems] == ["angle"]
    assert "frame 45" in problems[0].message


def test_validate_reports_parse_problems() -> None:
    problems = validate_settings({"zoom": "0:(", "prompts": {"max_g": "x"}})

    assert {problem.field for problem in problems} == {"zoom", "prompts"}


def test_prompt_schedule_by_frame() -> None:
    settings = parse_settings(
        {
            "prompts": {
                "10": "a castle",
                "max_f-10": "a forest --neg fog",
                "30": "a river",
            },
            "animation_prompts_positive": "oil painting,",
            "animation_prompts_negative": "blurry",
        }
    ).settings

    schedule = build_prompt_schedule(
        settings, 101, 0, default_prompt="unused", default_negative="text"
    )

    assert schedule.at(0) == ("oil painting, a castle", "blurry, text")
    assert schedule.at(29) == ("oil painting, a castle", "blurry, text")
    assert schedule.at(30) == ("oil painting, a river", "blurry, text")
    assert schedule.at(95) == ("oil painting, a forest", "fog, blurry, text")


def test_prompt_schedule_defaults_to_job_prompt() -> None:
    settings = parse_settings({}).settings

    schedule = build_prompt_schedule(
        settings, 10, 0, default_prompt="a cat", default_negative=""
    )

    assert schedule.at(7) == ("a cat", "")


Locate = Callable[[str], Path]


@pytest.mark.parametrize(
    "name",
    [
        "eudk_deforum_settings.txt",
        "zeuscsc_deforum_settings.txt",
        "deforumart_simple.input_settings.txt",
    ],
)
def test_saved_settings_files_import(sample_settings: Locate, name: str) -> None:
    imported = import_settings(sample_settings(name).read_bytes())

    assert imported.settings["prompts"]
    assert "sampler" in imported.ignored
    assert validate_settings(imported.settings) == []


def test_saved_3d_portrait_file(sample_settings: Locate) -> None:
    imported = import_settings(
        sample_settings("eudk_deforum_settings.txt").read_bytes()
    )
    parsed = parse_settings(imported.settings)

    assert parsed.settings.animation_mode == "3D"
    assert (parsed.settings.width, parsed.settings.height) == (720, 1280)
    assert parsed.settings.fps == 15
    assert sorted(parsed.settings.prompts, key=int) == [
        "0",
        "30",
        "60",
        "90",
        "150",
        "240",
    ]
    assert {"zoom", "angle"} <= set(imported.ignored)
    assert parsed.settings.schedules["translation_x"].values(300)[120] == 15


def test_saved_early_format_file(sample_settings: Locate) -> None:
    imported = import_settings(
        sample_settings("zeuscsc_deforum_settings.txt").read_bytes()
    )
    settings = parse_settings(imported.settings).settings

    assert settings.diffusion_cadence == 2
    assert settings.color_coherence == "LAB"
    assert settings.max_frames == 120


def test_saved_test_fixture_prompts_beyond_end(sample_settings: Locate) -> None:
    imported = import_settings(
        sample_settings("deforumart_simple.input_settings.txt").read_bytes()
    )
    settings = parse_settings(imported.settings).settings

    schedule = build_prompt_schedule(
        settings, 5, 1, default_prompt="", default_negative=""
    )

    assert settings.max_frames == 5
    assert schedule.at(4)[0].startswith("tiny cute swamp bunny")
