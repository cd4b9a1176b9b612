"""Soundtrack validation with probe_audio."""

from __future__ import annotations

from pathlib import Path

import pytest
from render_factories import write_audio, write_video

from mage_studio.render.errors import InvalidMedia, UnsupportedMedia
from mage_studio.render.media import probe_audio


@pytest.mark.parametrize(
    ("codec", "container_format", "bit_depth", "floating"),
    [
        ("pcm_s16le", "wav", 16, False),
        ("pcm_s24le", "wav", 24, False),
        ("pcm_f32le", "wav", 32, True),
    ],
)
def test_probe_wav_depths(
    tmp_path: Path, codec: str, container_format: str, bit_depth: int, floating: bool
) -> None:
    path = write_audio(
        tmp_path / "track.wav",
        seconds=1.5,
        codec=codec,
        container_format=container_format,
    )

    info = probe_audio(path)

    assert info.codec == codec
    assert info.bit_depth == bit_depth
    assert info.floating_point is floating
    assert info.sample_rate == 48000
    assert info.channels == 2
    assert info.duration == pytest.approx(1.5)
    assert info.mimetype == "audio/wav"


@pytest.mark.parametrize(
    ("codec", "container_format", "name", "mimetype"),
    [
        ("libmp3lame", "mp3", "track.mp3", "audio/mpeg"),
        ("aac", "adts", "track.aac", "audio/aac"),
        ("aac", "mp4", "track.m4a", "audio/mp4"),
    ],
)
def test_probe_compressed_soundtracks(
    tmp_path: Path, codec: str, container_format: str, name: str, mimetype: str
) -> None:
    path = write_audio(
        tmp_path / name,
        seconds=2,
        codec=codec,
        container_format=container_format,
        channels=1,
    )

    info = probe_audio(path)

    assert info.codec == ("mp3" if codec == "libmp3lame" else "aac")
    assert info.bit_depth is None
    assert info.channels == 1
    assert info.duration == pytest.approx(2.0, abs=0.06)
    assert info.mimetype == mimetype


def test_probe_audio_rejects_broken_wav(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFFXWAVEfmt D\x00\x00data,")

    with pytest.raises(InvalidMedia, match="damaged"):
        probe_audio(path)


def test_probe_audio_rejects_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("la la la\n" * 50)

    with pytest.raises(UnsupportedMedia):
        probe_audio(path)


def test_probe_audio_rejects_video_without_audio(tmp_path: Path) -> None:
    path = write_video(tmp_path / "silent.mp4", frames=4)

    with pytest.raises(UnsupportedMedia, match="no audio"):
        probe_audio(path)


def test_probe_audio_rejects_other_formats(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "track.flac", codec="flac", container_format="flac")

    with pytest.raises(UnsupportedMedia, match="not supported"):
        probe_audio(path)
