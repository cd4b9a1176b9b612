"""Per-frame Deforum values: schedules, steering and seeds."""

from __future__ import annotations

import pytest

from mage_studio.render.animation import DeforumPlan, JobDefaults, SeedSequencer
from mage_studio.render.deforum import parse_settings
from mage_studio.render.steering import Steering, SteeringEaser, ease

DEFAULTS = JobDefaults(
    prompt="a lighthouse",
    negative_prompt="",
    denoising=0.4,
    cfg_scale=7,
    steps=20,
    seed=11,
)


def _plan(settings: dict[str, object], frames: int = 20) -> DeforumPlan:
    return DeforumPlan(parse_settings(settings).settings, frames, DEFAULTS)


def test_job_denoising_and_cfg_without_schedules() -> None:
    values = _plan({}).frame(3)

    assert values.strength == pytest.approx(0.6)
    assert values.denoising == pytest.approx(0.4)
    assert values.cfg == 7
    assert values.steps == 20
    assert values.prompt == "a lighthouse"
    assert values.noise == pytest.approx(0.065)


def test_schedules_override_job_values() -> None:
    plan = _plan(
        {
            "strength_schedule": "0:(0.65), 10:(0.55)",
            "cfg_scale_schedule": "0:(9)",
            "enable_steps_scheduling": True,
            "steps_schedule": "0:(30)",
        }
    )

    assert plan.frame(5).strength == pytest.approx(0.6)
    assert plan.frame(5).cfg == 9
    assert plan.frame(5).steps == 30


def test_motion_from_schedules() -> None:
    values = _plan(
        {"zoom": "0:(1.02)", "angle": "0:(t)", "translation_x": "0:(0), 10:(10)"}
    ).frame(5)

    assert values.motion.zoom == pytest.approx(1.02)
    assert values.motion.angle == 5
    assert values.motion.translation_x == pytest.approx(5)
    assert values.motion.perspective is None


def test_steering_motion_is_added() -> None:
    steering = Steering(
        translation_x=2, translation_y=-1, translation_z=0.05, rotation_z=0.5
    )

    values = _plan(
        {"zoom": "0:(1.02)", "angle": "0:(1)", "translation_x": "0:(3)"}
    ).frame(2, steering)

    assert values.motion.translation_x == 5
    assert values.motion.translation_y == -1
    assert values.motion.angle == 1.5
    # A live zoom of 1 adds 0.05 to the zoom factor, so 0.05 adds 0.0025.
    assert values.motion.zoom == pytest.approx(1.0225)
    assert values.steering == {
        "translation_x": 2,
        "translation_y": -1,
        "translation_z": 0.05,
        "rotation_z": 0.5,
    }


def test_steering_rotation_and_fov_use_perspective() -> None:
    values = _plan({}).frame(0, Steering(rotation_x=3, rotation_y=-2, fov=90))

    assert values.motion.perspective is not None
    assert values.motion.perspective.theta == 3
    assert values.motion.perspective.phi == -2
    assert values.motion.perspective.fov == 90


def test_live_strength_cfg_prompt_need_switch() -> None:
    plan = _plan({"strength_schedule": "0:(0.65)"})
    steering = Steering(
        strength=0.2, cfg=12, positive_prompt="a storm", negative_prompt="sun"
    )
    switched = Steering(
        strength=0.2,
        cfg=12,
        positive_prompt="a storm",
        negative_prompt="sun",
        use_live_strength=True,
        use_live_cfg=True,
        use_live_prompt=True,
    )

    off = plan.frame(1, steering)
    on = plan.frame(1, switched)

    assert (off.strength, off.cfg, off.prompt) == (0.65, 7, "a lighthouse")
    assert (on.strength, on.cfg, on.prompt, on.negative_prompt) == (
        0.2,
        12,
        "a storm",
        "sun",
    )


def test_steering_noise_cadence_steps() -> None:
    values = _plan({"diffusion_cadence": 2}).frame(
        1, Steering(noise_multiplier=2, cadence=4, steps=9)
    )

    assert values.noise == pytest.approx(0.13)
    assert values.cadence == 4
    assert values.steps == 9


def test_three_d_mode_zooms_with_translation_z() -> None:
    plan = _plan(
        {
            "animation_mode": "3D",
            "zoom": "0:(1.5)",
            "translation_z": "0:(10)",
            "rotation_3d_z": "0:(2)",
            "rotation_3d_x": "0:(1)",
            "fov_schedule": "0:(70)",
        }
    )

    values = plan.frame(0)

    assert values.motion.zoom == pytest.approx(200 / 190)
    assert values.motion.angle == 2
    assert values.motion.perspective is not None
    assert values.motion.perspective.theta == 1
    assert values.motion.perspective.fov == 70


def test_record_has_protocol_keys() -> None:
    record = _plan({"zoom": "0:(1.02)"}).frame(0, Steering(translation_x=1)).record()

    assert record["zoom"] == 1.02
    assert record["strength"] == 0.6
    assert record["steering"] == {"translation_x": 1.0}


def test_steering_parsing_is_lenient() -> None:
    steering = Steering.from_mapping(
        {
            "strength": "0.7",
            "cfg": 99,
            "cadence": 2.6,
            "use_live_cfg": "true",
            "translation_x": "left",
            "seed_behavior": "sideways",
            "unknown": 1,
        }
    )

    assert steering.strength == 0.7
    assert steering.cfg == 30
    assert steering.cadence == 3
    assert steering.use_live_cfg is True
    assert steering.translation_x is None
    assert steering.seed_behavior is None


@pytest.mark.parametrize(
    ("behavior", "expected"),
    [
        ("iter", [5, 6, 7, 8, 9]),
        ("fixed", [5, 5, 5, 5, 5]),
        ("ladder", [5, 7, 6, 8, 7]),
        ("alternate", [5, 6, 5, 6, 5]),
    ],
)
def test_seed_behaviors(behavior: str, expected: list[int]) -> None:
    sequencer = SeedSequencer(5, behavior)
    seeds = []
    for index in range(5):
        seeds.append(sequencer.current(index))
        sequencer.advance()

    assert seeds == expected


def test_seed_iter_every_n() -> None:
    sequencer = SeedSequencer(5, "iter", iter_n=2)
    seeds = []
    for index in range(5):
        seeds.append(sequencer.current(index))
        sequencer.advance()

    assert seeds == [5, 6, 6, 7, 7]


def test_seed_random_repeats_per_seed() -> None:
    def run() -> list[int]:
        sequencer = SeedSequencer(5, "random")
        seeds = []
        for index in range(4):
            seeds.append(sequencer.current(index))
            sequencer.advance()
        return seeds

    assert run() == run()
    assert len(set(run())) == 4


def test_seed_schedule() -> None:
    plan = _plan({"seed_schedule": "0:(s), 2:(100), 4:(-1)"}, frames=6)
    sequencer = SeedSequencer(11, "schedule", schedule=plan.seed_schedule())

    assert sequencer.current(0) == 11
    assert sequencer.current(2) == 100
    assert sequencer.current(3) == 50  # numbers interpolate: halfway from 100 to -1
    assert 0 <= sequencer.current(4) < 2**32


def test_seed_wraps() -> None:
    sequencer = SeedSequencer(2**32 - 1, "iter")
    sequencer.advance()

    assert sequencer.current(1) == 0


def test_ease_curves() -> None:
    assert ease("linear", 0.5) == 0.5
    assert ease("ease-in", 0.5) < 0.4
    assert ease("ease-out", 0.5) > 0.6
    assert ease("ease-in-out", 0.5) == pytest.approx(0.5, abs=1e-6)
    assert ease("ease", 0.0) == 0.0
    assert ease("ease", 1.0) == 1.0


def test_easer_moves_motion_gradually() -> None:
    easer = SteeringEaser()
    target = Steering(translation_x=10, ease_frames=4)

    values = [easer.apply(target).translation_x for _ in range(5)]
    back = [
        easer.apply(Steering(translation_x=0, ease_frames=2)).translation_x
        for _ in range(3)
    ]

    assert values == pytest.approx([2.5, 5.0, 7.5, 10.0, 10.0])
    assert back == pytest.approx([5.0, 0.0, 0.0])


def test_easer_without_frames_jumps() -> None:
    easer = SteeringEaser()

    assert easer.apply(Steering(strength=0.3, ease_frames=5)).strength == 0.3
    assert easer.apply(Steering(strength=0.7)).strength == 0.7
    assert easer.apply(Steering()).strength is None


def test_easer_follows_curve() -> None:
    easer = SteeringEaser()
    easer.apply(Steering(cfg=5))

    eased = [
        easer.apply(Steering(cfg=15, ease_frames=4, ease_curve="ease-in")).cfg
        for _ in range(4)
    ]

    assert eased[0] is not None
    assert eased[0] < 5 + 10 * 0.25
    assert eased[-1] == 15


@pytest.mark.parametrize(
    ("live", "zoom"), [(1.0, 1.05), (0.1, 1.005), (-1.0, 0.95), (0.0, 1.0)]
)
def test_live_zoom_scale(live: float, zoom: float) -> None:
    values = _plan({"zoom": "0:(1.0)"}).frame(0, Steering(translation_z=live))

    assert values.motion.zoom == pytest.approx(zoom)


def test_live_zoom_clamped_positive() -> None:
    values = _plan({"zoom": "0:(0.06)"}).frame(0, Steering(translation_z=-1))

    assert values.motion.zoom == pytest.approx(0.05)


def test_live_pan_and_rotation_units() -> None:
    steering = Steering(translation_x=10, translation_y=-4, rotation_z=2, rotation_x=3)

    values = _plan({}).frame(0, steering)

    assert values.motion.translation_x == 10  # pixels per frame
    assert values.motion.translation_y == -4
    assert values.motion.angle == 2  # degrees per frame
    assert values.motion.perspective is not None
    assert values.motion.perspective.theta == 3


def test_seed_random_draw_for_live_minus_one() -> None:
    sequencer = SeedSequencer(5, "iter")

    assert sequencer.random_seed() == SeedSequencer(5, "iter").random_seed()
    assert 0 <= sequencer.random_seed() < 2**32
