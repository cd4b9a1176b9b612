"""Benchmark the preview backend's render speed against plain decode and encode.

Not a test: it prints figures. It writes a textured test clip with PyAV, then times
in the same run:

1. baseline: the clip decoded, scaled to the render size and encoded to H.264 with
   the render package's own media functions (`iter_frames`, `VideoWriter`), the
   part of a vid2vid render that no backend can avoid;
2. vid2vid: a full `render_job` of the clip with the preview backend;
3. deforum: a full Deforum render of as many frames at the same size (warp, noise
   and the preview backend each frame, no decoding).

Each figure is the best of `--repeat` runs, in frames per second of output, and the
ratio to the baseline shows how much of the pipeline's limit the render reaches.

    .venv/bin/python bench/bench_render.py [--seconds 10] [--fps 24]
        [--source-size 1280x720] [--max-side 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import structlog

from mage_studio.render.backends import PreviewBackend
from mage_studio.render.imaging import diffusion_size
from mage_studio.render.media import VideoWriter, iter_frames, probe
from mage_studio.render.pipelines import RenderSpec, render_job
from mage_studio.render.presets import preset_catalog


def write_clip(
    path: Path, width: int, height: int, rate: Fraction, frames: int
) -> None:
    """Write an H.264 clip of moving gradients and soft blotches, like filmed video.

    Per-pixel noise would make every frame as expensive to decode as a keyframe
    of grain, which real footage rarely is.
    """
    rng = np.random.default_rng(7)
    columns = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    blotches = rng.random((height // 16 + 1, width // 16 + 1, 3), dtype=np.float32)
    texture = cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            phase = index / max(frames, 1)
            wave = 0.5 + 0.5 * np.sin(6.28 * (columns + rows * 0.5 + phase))
            shifted = np.roll(texture, index * 3, axis=1)
            image = (wave[:, :, None] * 0.6 + shifted * 0.4) * 255
            frame = av.VideoFrame.from_ndarray(
                np.clip(image, 0, 255).astype(np.uint8), format="rgb24"
            )
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def decode_encode(source: Path, output: Path, size: tuple[int, int]) -> int:
    """Decode, scale and encode `source` like a render without a backend."""
    info = probe(source)
    assert info.fps is not None
    frames = 0
    with VideoWriter(output, size[0], size[1], info.fps) as writer:
        for _, image in iter_frames(source, rate=info.fps, size=size):
            writer.write(image)
            frames += 1
    return frames


def render_vid2vid(source: Path, folder: Path, max_side: int) -> int:
    spec = RenderSpec(
        job_id="bench",
        generator="vid2vid",
        render="full",
        prompt="an oil painting of a harbour",
        max_side=max_side,
        color_match=True,
        source=source,
    )
    return render_job(spec, folder, PreviewBackend()).frames_rendered


def render_deforum(
    folder: Path, size: tuple[int, int], rate: Fraction, frames: int
) -> int:
    settings = next(p for p in preset_catalog() if p.name == "zoom-in").settings
    spec = RenderSpec(
        job_id="bench",
        generator="deforum",
        render="full",
        prompt="a lighthouse at dusk",
        width=size[0],
        height=size[1],
        fps=rate,
        frame_count=frames,
        deforum=settings,
    )
    return render_job(spec, folder, PreviewBackend()).frames_rendered


def best_fps(run: Callable[[Path], int], repeat: int) -> tuple[float, int]:
    """Return the best frames per second of `repeat` runs, and the frame count."""
    best = 0.0
    frames = 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            frames = run(Path(folder))
            elapsed = time.perf_counter() - started
        best = max(best, frames / elapsed)
    return best, frames


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="Clip length in seconds."
    )
    parser.add_argument("--fps", type=int, default=24, help="Clip frame rate.")
    parser.add_argument("--source-size", default="1280x720", help="WIDTHxHEIGHT.")
    parser.add_argument(
        "--max-side",
        type=int,
        default=512,
        help="Maximum side of the render in pixels.",
    )
    parser.add_argument("--repeat", type=int, default=3, help="Runs per figure.")
    args = parser.parse_args()
    # Only the figures below are output; the render's own info logs are dropped.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)
    )

    width, height = parse_size(args.source_size)
    rate = Fraction(args.fps)
    count = round(args.seconds * args.fps)
    size = diffusion_size(width, height, max_side=args.max_side)

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "clip.mp4"
        write_clip(source, width, height, rate, count)
        baseline, frames = best_fps(
            lambda out: decode_encode(source, out / "plain.mp4", size), args.repeat
        )
        vid2vid, _ = best_fps(
            lambda out: render_vid2vid(source, out, args.max_side), args.repeat
        )
        deforum, _ = best_fps(
            lambda out: render_deforum(out, size, rate, count), args.repeat
        )

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(f"source: {width}x{height} at {args.fps} fps, {frames} frames")
    print(f"render size: {size[0]}x{size[1]}, best of {args.repeat} runs")
    print(f"{'what':<34}{'fps':>8}{'x baseline':>12}")
    rows = [
        ("decode + scale + encode (baseline)", baseline),
        ("vid2vid, preview backend", vid2vid),
        ("deforum, preview backend", deforum),
    ]
    for name, value in rows:
        print(f"{name:<34}{value:>8.1f}{value / baseline:>12.2f}")
    print(f"a {args.seconds:g} s clip renders (vid2vid) in {frames / vid2vid:.1f} s")


if __name__ == "__main__":
    main()
