"""Media io with PyAV and Pillow: probing, decoding, encoding, audio and previews.

Server code imports `probe_upload` and `probe_audio` from here to validate uploads,
and `remux_soundtrack` to add a soundtrack to a finished video.
"""

from mage_studio.render.media.audio import AudioInfo, AudioSource, probe_audio
from mage_studio.render.media.decode import (
    iter_frames,
    output_frame_count,
    read_first_frame,
    read_last_frame,
    sample_frames,
)
from mage_studio.render.media.encode import (
    VideoWriter,
    concat_videos,
    even_size,
    finish_video,
    mux_audio,
    remux_soundtrack,
)
from mage_studio.render.media.previews import (
    load_png,
    save_animation,
    save_png,
    save_strip,
    save_thumbnail,
)
from mage_studio.render.media.probe import MediaInfo, MediaKind, probe, probe_upload
from mage_studio.render.media.timeline import (
    even_indices,
    format_rate,
    normalise_rate,
    parse_rate,
)

__all__ = [
    "AudioInfo",
    "AudioSource",
    "MediaInfo",
    "MediaKind",
    "VideoWriter",
    "concat_videos",
    "even_indices",
    "even_size",
    "finish_video",
    "format_rate",
    "iter_frames",
    "load_png",
    "mux_audio",
    "normalise_rate",
    "output_frame_count",
    "parse_rate",
    "probe",
    "probe_audio",
    "probe_upload",
    "read_first_frame",
    "read_last_frame",
    "remux_soundtrack",
    "sample_frames",
    "save_animation",
    "save_png",
    "save_strip",
    "save_thumbnail",
]
