"""MP4 writing, audio muxing, soundtrack remux and concatenation."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from render_factories import decoded_index, make_frame, write_audio, write_video

from mage_studio.render.media import (
    AudioSource,
    VideoWriter,
    concat_videos,
    even_size,
    iter_frames,
    mux_audio,
    probe,
    remux_soundtrack,
)

AAC_FRAME = 1024 / 48000


def _write_clip(path: Path, frames: int = 24, rate: Fraction = Fraction(24)) -> Path:
    with VideoWriter(path, 64, 48, rate) as writer:
        for index in range(frames):
            writer.write(make_frame(index, 64, 48))
    return path


def _audio_span(path: Path) -> tuple[str, float]:
    """Return the audio codec and the end time of the last audio packet."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        ends = [
            float((packet.pts + packet.duration) * packet.time_base)
            for packet in container.demux(stream)
            if packet.size and packet.pts is not None
        ]
        return stream.codec_context.name, max(ends)


def _top_level_boxes(path: Path) -> list[bytes]:
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8])
        if size < 8:
            break
        offset += size
    return boxes


def test_writer_exact_ntsc_rate_and_faststart(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "out.mp4", frames=30, rate=Fraction(30000, 1001))

    info = probe(path)
    boxes = _top_level_boxes(path)

    assert info.fps == Fraction(30000, 1001)
    assert info.frame_count == 30
    assert info.duration == pytest.approx(30 * 1001 / 30000)
    assert boxes.index(b"moov") < boxes.index(b"mdat")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"


def test_writer_keeps_frame_content(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "out.mp4", frames=8)

    indices = [decoded_index(image) for _, image in iter_frames(path)]

    assert indices == list(range(8))


def test_writer_rejects_odd_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", 63, 48, Fraction(24))


def test_writer_rejects_frame_of_other_size(tmp_path: Path) -> None:
    writer = VideoWriter(tmp_path / "out.mp4", 64, 48, Fraction(24))

    with pytest.raises(ValueError, match="frame is 32x32"):
        writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.close()


def test_even_size() -> None:
    assert even_size(314, 273) == (314, 272)
    assert even_size(1, 1) == (2, 2)


@pytest.mark.parametrize(
    ("codec", "container_format", "suffix"),
    [
        ("pcm_s16le", "wav", "wav"),
        ("pcm_s24le", "wav", "wav"),
        ("pcm_f32le", "wav", "wav"),
        ("libmp3lame", "mp3", "mp3"),
        ("aac", "adts", "aac"),
        ("aac", "mp4", "m4a"),
    ],
)
def test_mux_soundtrack_cut_to_video(
    tmp_path: Path, codec: str, container_format: str, suffix: str
) -> None:
    video = _write_clip(tmp_path / "video.mp4", frames=24)  # 1.0 s
    soundtrack = write_audio(
        tmp_path / f"track.{suffix}",
        seconds=3,
        codec=codec,
        container_format=container_format,
    )

    has_audio = mux_audio(video, tmp_path / "out.mp4", AudioSource(soundtrack))
    audio_codec, audio_end = _audio_span(tmp_path / "out.mp4")

    assert has_audio
    assert audio_codec == "aac"
    assert 1.0 - AAC_FRAME <= audio_end <= 1.0 + AAC_FRAME
    assert probe(tmp_path / "out.mp4").frame_count == 24


def test_mux_encoded_audio_ends_with_video(tmp_path: Path) -> None:
    video = _write_clip(tmp_path / "video.mp4", frames=24)
    soundtrack = write_audio(tmp_path / "track.wav", seconds=3)

    mux_audio(video, tmp_path / "out.mp4", AudioSource(soundtrack))
    with av.open(str(tmp_path / "out.mp4")) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))

    assert samples == pytest.approx(48000, abs=1024)


def test_mux_source_audio_from_start_offset(tmp_path: Path) -> None:
    source = write_video(tmp_path / "source.mp4", frames=48, audio_codec="aac")  # 2 s
    video = _write_clip(tmp_path / "video.mp4", frames=24)  # 1 s

    mux_audio(video, tmp_path / "out.mp4", AudioSource(source, start=0.5))
    _, audio_end = _audio_span(tmp_path / "out.mp4")

    assert audio_end == pytest.approx(1.0, abs=AAC_FRAME)


def test_mux_short_soundtrack_stays_short(tmp_path: Path) -> None:
    video = _write_clip(tmp_path / "video.mp4", frames=48)  # 2 s
    soundtrack = write_audio(tmp_path / "track.wav", seconds=0.5)

    mux_audio(video, tmp_path / "out.mp4", AudioSource(soundtrack))
    _, audio_end = _audio_span(tmp_path / "out.mp4")

    assert audio_end == pytest.approx(0.5, abs=AAC_FRAME)


def test_mux_without_audio_stream_copies_picture(tmp_path: Path) -> None:
    video = _write_clip(tmp_path / "video.mp4", frames=12)
    silent = _write_clip(tmp_path / "silent.mp4", frames=12)

    has_audio = mux_audio(video, tmp_path / "out.mp4", AudioSource(silent))

    assert not has_audio
    assert not probe(tmp_path / "out.mp4").has_audio


def test_remux_soundtrack_keeps_video_packets(tmp_path: Path) -> None:
    video = write_video(tmp_path / "video.mp4", frames=24, audio_codec="aac")
    soundtrack = write_audio(
        tmp_path / "track.mp3", codec="libmp3lame", container_format="mp3", seconds=3
    )

    remux_soundtrack(video, soundtrack, tmp_path / "out.mp4")

    def video_payloads(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    assert video_payloads(tmp_path / "out.mp4") == video_payloads(video)
    assert probe(tmp_path / "out.mp4").has_audio


def test_concat_videos_in_order_with_audio(tmp_path: Path) -> None:
    first = _write_clip(tmp_path / "first.mp4", frames=5)
    with VideoWriter(tmp_path / "second.mp4", 64, 48, Fraction(24)) as writer:
        for index in range(5, 9):
            writer.write(make_frame(index, 64, 48))
    soundtrack = write_audio(tmp_path / "track.wav", seconds=2)

    frames = concat_videos(
        first,
        tmp_path / "second.mp4",
        tmp_path / "joined.mp4",
        audio=AudioSource(soundtrack),
    )
    info = probe(tmp_path / "joined.mp4")

    assert frames == 9
    assert info.frame_count == 9
    assert info.has_audio
    assert [
        decoded_index(img) for _, img in iter_frames(tmp_path / "joined.mp4")
    ] == list(range(9))


def test_concat_rejects_other_rate(tmp_path: Path) -> None:
    first = _write_clip(tmp_path / "first.mp4", frames=4, rate=Fraction(24))
    second = _write_clip(tmp_path / "second.mp4", frames=4, rate=Fraction(25))

    with pytest.raises(Exception, match="size and frame rate"):
        concat_videos(first, second, tmp_path / "joined.mp4")


def test_writer_tags_bt601_colours(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    with VideoWriter(path, 64, 48, Fraction(24)) as writer:
        writer.write(np.full((48, 64, 3), (200, 30, 60), np.uint8))

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        pixel = frame.to_ndarray(format="rgb24")[24, 32]

    assert stream.codec_context.colorspace == 6
    assert stream.codec_context.color_range == 1
    assert np.abs(pixel.astype(int) - [200, 30, 60]).max() <= 4
