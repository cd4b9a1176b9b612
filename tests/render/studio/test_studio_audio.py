"""Soundtrack tools: replace, mix, fades, trim and loop, with the picture copied."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from studio_factories import decode_audio, rms, stream_facts, write_clip, write_tone

from mage_studio.render.errors import MediaError, RenderCancelled
from mage_studio.render.pipelines import Progress, RenderOutputs
from mage_studio.render.studio import StudioMedia, run_studio
from mage_studio.render.studio.audio import fade_envelope
from mage_studio.render.studio.pcm import AacWriter, PcmReader

RATE = 48000


@pytest.fixture
def video(tmp_path: Path) -> Path:
    # Two seconds at 12 fps with a 440 Hz tone.
    return write_clip(tmp_path / "video.mp4", frames=24, tone_hz=440)


def edit(
    tmp_path: Path, video: Path, options: dict[str, Any], soundtrack: Path | None
) -> RenderOutputs:
    return run_studio(
        "1",
        "audio",
        options,
        StudioMedia((video,), soundtrack=soundtrack),
        tmp_path / "out",
    )


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [
            bytes(packet)
            for packet in container.demux(video=0)
            if packet.size and packet.dts is not None
        ]


def tone_level(samples: np.ndarray, frequency: float) -> float:
    """Amplitude of one frequency in the left channel, from its Fourier transform."""
    spectrum = np.abs(np.fft.rfft(samples[0])) * 2 / samples.shape[1]
    bin_index = round(frequency * samples.shape[1] / RATE)
    return float(spectrum[bin_index - 2 : bin_index + 3].max())


def test_replace_copies_picture_and_matches_length(tmp_path: Path, video: Path) -> None:
    soundtrack = write_tone(tmp_path / "music.wav", seconds=5, frequency=880)

    outputs = edit(tmp_path, video, {"mode": "replace"}, soundtrack)

    assert outputs.video is not None
    assert video_packets(outputs.video) == video_packets(video)
    audio = decode_audio(outputs.video)
    assert audio.shape[1] / RATE == pytest.approx(2.0, abs=1 / 12)
    middle = audio[:, RATE // 2 : RATE // 2 + 9600]
    assert tone_level(middle, 880) > 0.2
    assert tone_level(middle, 440) < 0.02
    assert stream_facts(outputs.video)["frames"] == 24


def test_mix_levels(tmp_path: Path, video: Path) -> None:
    soundtrack = write_tone(tmp_path / "music.wav", seconds=5, frequency=880)

    outputs = edit(
        tmp_path,
        video,
        {"mode": "mix", "soundtrackGain": 0.5, "originalDb": 0},
        soundtrack,
    )

    assert outputs.video is not None
    middle = decode_audio(outputs.video)[:, RATE // 2 : RATE // 2 + 9600]
    assert tone_level(middle, 440) == pytest.approx(0.3, abs=0.04)
    assert tone_level(middle, 880) == pytest.approx(0.15, abs=0.03)


def test_original_only_with_fades(tmp_path: Path, video: Path) -> None:
    outputs = edit(
        tmp_path,
        video,
        {"mode": "original", "fadeIn": 0.5, "fadeOut": 0.5},
        None,
    )

    assert outputs.video is not None
    audio = decode_audio(outputs.video)
    start = rms(audio[:, : RATE // 20])
    middle = rms(audio[:, RATE : RATE + RATE // 10])
    end = rms(audio[:, int(1.96 * RATE) : 2 * RATE])
    assert middle == pytest.approx(0.3 / np.sqrt(2), abs=0.03)
    assert start < middle / 4
    assert end < middle / 4


def test_short_soundtrack_trim_leaves_silence(tmp_path: Path, video: Path) -> None:
    soundtrack = write_tone(tmp_path / "short.wav", seconds=0.5)

    outputs = edit(tmp_path, video, {"mode": "replace", "fit": "trim"}, soundtrack)

    assert outputs.video is not None
    audio = decode_audio(outputs.video)
    assert audio.shape[1] / RATE == pytest.approx(2.0, abs=1 / 12)
    assert rms(audio[:, : RATE // 4]) > 0.1
    assert rms(audio[:, RATE : int(1.9 * RATE)]) < 0.005


def test_short_soundtrack_loops(tmp_path: Path, video: Path) -> None:
    soundtrack = write_tone(tmp_path / "short.wav", seconds=0.5)

    outputs = edit(tmp_path, video, {"mode": "replace", "fit": "loop"}, soundtrack)

    assert outputs.video is not None
    audio = decode_audio(outputs.video)
    for second in (0.2, 0.7, 1.2, 1.7):
        window = audio[:, int(second * RATE) : int(second * RATE) + 4800]
        assert rms(window) > 0.1


def test_soundtrack_start_skips(tmp_path: Path, video: Path) -> None:
    soundtrack = write_tone(tmp_path / "short.wav", seconds=1.0)

    outputs = edit(
        tmp_path, video, {"mode": "replace", "soundtrackStart": 0.75}, soundtrack
    )

    assert outputs.video is not None
    audio = decode_audio(outputs.video)
    assert rms(audio[:, : RATE // 5]) > 0.1
    assert rms(audio[:, int(0.4 * RATE) : RATE]) < 0.005


def test_mute_removes_audio(tmp_path: Path, video: Path) -> None:
    outputs = edit(tmp_path, video, {"mode": "mute"}, None)

    assert outputs.video is not None
    assert not outputs.has_audio
    assert stream_facts(outputs.video)["audio_codec"] is None
    assert video_packets(outputs.video) == video_packets(video)


def test_replace_needs_soundtrack(tmp_path: Path, video: Path) -> None:
    with pytest.raises(MediaError, match="needs a soundtrack"):
        edit(tmp_path, video, {"mode": "replace"}, None)


def test_audio_progress_and_cancel(tmp_path: Path, video: Path) -> None:
    soundtrack = write_tone(tmp_path / "music.wav", seconds=3)
    reports: list[Progress] = []

    with pytest.raises(RenderCancelled):
        run_studio(
            "1",
            "audio",
            {"mode": "replace"},
            StudioMedia((video,), soundtrack=soundtrack),
            tmp_path / "out",
            on_progress=reports.append,
            should_cancel=lambda: len(reports) >= 3,
        )

    assert len(reports) == 3
    assert all(report.frames_total == 24 for report in reports)
    assert reports[-1].frames_done < 24


def test_fade_envelope() -> None:
    gains = fade_envelope(0, 10, 10, fade_in=4, fade_out=2)

    assert gains.tolist() == pytest.approx(
        [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    )


def test_pcm_round_trip_keeps_length(tmp_path: Path) -> None:
    path = tmp_path / "track.m4a"
    with AacWriter(path) as writer:
        for _ in range(10):
            writer.write(np.full((2, 1000), 0.25, dtype=np.float32))

    with PcmReader(path) as reader:
        samples = reader.read(12_000)

    assert rms(samples[:, 1000:9000]) == pytest.approx(0.25, abs=0.02)
    assert rms(samples[:, 10_100:]) < 0.01  # silence after the end


def test_pcm_reader_aligns_to_video_start(tmp_path: Path) -> None:
    source = write_tone(tmp_path / "tone.wav", seconds=1.0)

    with PcmReader(source, start=-0.5) as early, PcmReader(source, skip=0.5) as late:
        delayed = early.read(RATE)
        advanced = late.read(RATE)

    assert rms(delayed[:, : RATE // 2 - 100]) == 0.0
    assert rms(delayed[:, RATE // 2 + 100 :]) > 0.1
    assert rms(advanced[:, : RATE // 2 - 100]) > 0.1
    assert rms(advanced[:, RATE // 2 + 100 :]) == 0.0


def test_pcm_reader_silence_without_audio(tmp_path: Path) -> None:
    silent = write_clip(tmp_path / "silent.mp4", rate=Fraction(12))

    with PcmReader(silent, loop=True) as reader:
        samples = reader.read(4800)

    assert samples.shape == (2, 4800)
    assert not samples.any()
