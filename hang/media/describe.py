"""Catalog entries (WebCodecs configs) for encoded streams, derived from their real bitstreams."""

from __future__ import annotations

from hang.catalog import codecs
from hang.catalog.models import AudioConfig, VideoConfig
from hang.errors import MediaError
from hang.media import h264


def video_config(codec: str, keyframe: bytes, *, width: int, height: int, framerate: float | None = None,
                 bitrate: int | None = None, extradata: bytes | None = None,
                 h264_output: str = "avc3", avcc: bytes | None = None) -> VideoConfig:
    """The VideoConfig of a stream from its first keyframe (and extradata where the codec keeps it there).

    ``codec`` is the FFmpeg codec name (h264, vp8, vp9, av1). For H.264, ``h264_output`` says which form
    the packager writes: ``avc3`` (Annex-B, in-band parameter sets) or ``avc1`` with ``avcc`` as description.
    """
    description: bytes | None = None
    if codec == "h264":
        if h264_output == "avc1":
            if not avcc:
                raise MediaError("avc1 output needs the avcC description")
            description = avcc
            name = codecs.avc_codec(avcc, in_band=False)
        else:
            source = keyframe if h264.is_annexb(keyframe) else (extradata or b"")
            nals = h264.split_annexb(source) if h264.is_annexb(source) else list(h264.AvcConfig.parse(source).sps)
            sps, _ = h264.parameter_sets(nals)
            if not sps:
                raise MediaError("no SPS in the first H.264 keyframe")
            name = codecs.avc_codec(sps[0], in_band=True)
    elif codec == "vp8":
        name = "vp8"
    elif codec == "vp9":
        name = codecs.vp9_codec(keyframe, width, height, framerate or 30.0)
    elif codec == "av1":
        name = codecs.av1_codec(extradata if extradata else keyframe)
    else:
        raise MediaError(f"no catalog mapping for video codec {codec!r}")
    return VideoConfig(codec=name, description=description, coded_width=width, coded_height=height,
                       framerate=framerate, bitrate=bitrate)


def audio_config(codec: str, *, sample_rate: int, channels: int, bitrate: int | None = None,
                 extradata: bytes | None = None) -> AudioConfig:
    """The AudioConfig of an Opus or AAC stream (``description`` = OpusHead / AudioSpecificConfig)."""
    if codec == "opus":
        head = extradata if extradata and extradata.startswith(b"OpusHead") else codecs.opus_head(channels)
        return AudioConfig(codec="opus", description=head, sample_rate=sample_rate,
                           number_of_channels=channels, bitrate=bitrate)
    if codec == "aac":
        asc = extradata or codecs.audio_specific_config(sample_rate, channels)
        return AudioConfig(codec=codecs.aac_codec(asc), description=asc, sample_rate=sample_rate,
                           number_of_channels=channels, bitrate=bitrate)
    raise MediaError(f"no catalog mapping for audio codec {codec!r}")
