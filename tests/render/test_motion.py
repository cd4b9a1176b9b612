"""2D warp, perspective, contrast and noise."""

from __future__ import annotations

import numpy as np
import pytest

from mage_studio.render.motion import (
    Motion,
    NoiseSettings,
    Perspective,
    add_noise,
    adjust_contrast,
    motion_matrix,
    warp,
    zoom_from_translation_z,
)


def _dot_image(x: int, y: int, width: int = 64, height: int = 48) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return image


def _dot_position(image: np.ndarray) -> tuple[float, float]:
    weights = image[:, :, 0].astype(float)
    ys, xs = np.indices(weights.shape)
    return float((xs * weights).sum() / weights.sum()), float(
        (ys * weights).sum() / weights.sum()
    )


def test_identity_motion_returns_input() -> None:
    image = _dot_image(10, 10)

    assert warp(image, Motion()) is image


def test_translation_moves_right_and_down() -> None:
    moved = warp(_dot_image(20, 20), Motion(translation_x=5, translation_y=-3))

    assert _dot_position(moved) == pytest.approx((25, 17), abs=0.2)


def test_zoom_scales_from_center() -> None:
    moved = warp(
        _dot_image(42, 24), Motion(zoom=1.5)
    )  # 10 px right of the centre (32, 24)

    assert _dot_position(moved) == pytest.approx((47, 24), abs=0.3)


def test_positive_angle_turns_counter_clockwise() -> None:
    moved = warp(_dot_image(42, 24), Motion(angle=90))

    assert _dot_position(moved) == pytest.approx((32, 14), abs=0.3)


def test_transform_center_moves_pivot() -> None:
    moved = warp(_dot_image(10, 10), Motion(zoom=2.0, center_x=0.0, center_y=0.0))

    assert _dot_position(moved) == pytest.approx((20, 20), abs=0.5)


def test_border_replicate_and_wrap() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, -1] = 200  # bright right column
    shifted = Motion(translation_x=3)

    replicated = warp(image, shifted, "replicate")
    wrapped = warp(image, shifted, "wrap")

    assert replicated[:, 0, 0].max() == 0
    assert wrapped[:, 2, 0].min() == 200


def test_perspective_zero_is_identity() -> None:
    matrix = motion_matrix(64, 48, Motion(perspective=Perspective()))

    assert np.allclose(matrix, np.eye(3), atol=1e-5)


def test_perspective_tilt_narrows_one_edge() -> None:
    matrix = motion_matrix(64, 48, Motion(perspective=Perspective(theta=30)))
    corners = np.array([[0, 0, 1], [64, 0, 1], [0, 48, 1], [64, 48, 1]], dtype=float)
    mapped = corners @ matrix.T
    mapped = mapped[:, :2] / mapped[:, 2:]

    top_width = mapped[1, 0] - mapped[0, 0]
    bottom_width = mapped[3, 0] - mapped[2, 0]
    assert abs(top_width - bottom_width) > 5


def test_translation_z_as_zoom() -> None:
    assert zoom_from_translation_z(0) == 1.0
    assert zoom_from_translation_z(10) == pytest.approx(200 / 190)
    assert zoom_from_translation_z(-10) == pytest.approx(200 / 210)
    assert zoom_from_translation_z(1000) == pytest.approx(20.0)


def test_contrast_clips() -> None:
    image = np.array([[[100, 200, 10]]], np.uint8)

    assert adjust_contrast(image, 1.5).tolist() == [[[150, 255, 15]]]
    assert adjust_contrast(image, 1.0) is image


@pytest.mark.parametrize("kind", ["uniform", "perlin"])
def test_noise_seeded_and_bounded(kind: str) -> None:
    image = np.full((48, 64, 3), 128, np.uint8)
    settings = NoiseSettings(kind=kind)  # type: ignore[arg-type]

    first = add_noise(image, 0.2, 7, settings)
    again = add_noise(image, 0.2, 7, settings)
    other = add_noise(image, 0.2, 8, settings)

    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert abs(float(first.mean()) - 128) < 4
    assert first.std() > 1


def test_noise_zero_amount_is_identity() -> None:
    image = np.full((8, 8, 3), 50, np.uint8)

    assert add_noise(image, 0.0, 1, NoiseSettings()) is image
