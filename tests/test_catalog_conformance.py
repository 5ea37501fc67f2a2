"""Catalogs we write are accepted by the official @moq/hang schema (npm, pinned), run in Node."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from hang.catalog import PRIORITY_AUDIO, PRIORITY_VIDEO, AudioSection, Catalog, VideoSection, to_json
from hang.catalog.models import Container, Display
from hang.media.describe import audio_config, video_config
from hang.media.h264 import AvcConfig, parameter_sets, split_annexb
from tests.media_util import FPS, HEIGHT, WIDTH, encode_audio, encode_video, tone

NODE_DIR = Path(__file__).parent / "node"


def official_check(catalogs: list[bytes]) -> list[dict[str, Any]]:
    """Run @moq/hang's RootSchema over each catalog document."""
    assert (NODE_DIR / "node_modules" / "@moq" / "hang").is_dir(), "run .ci/setup (npm ci in tests/node)"
    batch = json.dumps({"many": [json.loads(c) for c in catalogs]})
    done = subprocess.run(["node", "--import", "./register.mjs", "check_catalog.mjs"], input=batch, text=True,
                          capture_output=True, cwd=NODE_DIR, timeout=60, check=True)
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    return results


def catalogs_from_real_encoders() -> dict[str, Catalog]:
    made: dict[str, Catalog] = {}
    opus_ctx, _ = encode_audio("libopus", tone(0.1))
    aac_ctx, _ = encode_audio("aac", tone(0.1))
    audio = {
        "opus": audio_config("opus", sample_rate=48000, channels=2, bitrate=64000, extradata=opus_ctx.extradata),
        "aac": audio_config("aac", sample_rate=48000, channels=2, bitrate=128000, extradata=aac_ctx.extradata),
    }
    for encoder, codec in [("libx264", "h264"), ("libvpx", "vp8"), ("libvpx-vp9", "vp9"), ("libsvtav1", "av1")]:
        context, packets = encode_video(encoder, 2, **({"preset": "12"} if codec == "av1" else {}))
        forms = ["avc3", "avc1"] if codec == "h264" else [""]
        for form in forms:
            avcc = None
            if form == "avc1":
                sps, pps = parameter_sets(split_annexb(packets[0].payload))
                avcc = AvcConfig((sps[0],), (pps[0],)).build()
            video = video_config(codec, packets[0].payload, width=WIDTH, height=HEIGHT, framerate=FPS,
                                 bitrate=1_000_000, extradata=context.extradata, h264_output=form or "avc3", avcc=avcc)
            name = f"{codec}-{form}" if form else codec
            made[name] = Catalog(
                video=VideoSection(renditions={"video/hd": video}, priority=PRIORITY_VIDEO,
                                   display=Display(width=WIDTH, height=HEIGHT)),
                audio=AudioSection(renditions={"audio/data": audio["opus" if codec != "h264" else "aac"]},
                                   priority=PRIORITY_AUDIO))
    return made


def test_official_schema_accepts_every_catalog_we_write() -> None:
    catalogs = catalogs_from_real_encoders()
    cmaf = Catalog(video=VideoSection(renditions={"v": catalogs["h264-avc1"].video.renditions["video/hd"]  # type: ignore[union-attr]
                                                  .model_copy(update={"container": Container(kind="cmaf",
                                                                                             init=b"\x00" * 8)})}))
    catalogs["cmaf"] = cmaf
    catalogs["chat-extension"] = Catalog(chat={"track": "chat"})  # type: ignore[call-arg]
    names = list(catalogs)
    results = official_check([to_json(catalogs[n]) for n in names])
    for name, result in zip(names, results, strict=True):
        assert result["ok"], f"{name}: {result.get('issues')}"
    parsed = dict(zip(names, results, strict=True))
    kept = parsed["h264-avc1"]["parsed"]["video"]["renditions"]["video/hd"]
    ours = catalogs["h264-avc1"].video.renditions["video/hd"]  # type: ignore[union-attr]
    assert kept["codec"] == ours.codec and kept["codec"].startswith("avc1.")
    assert kept["description"] == ours.description.hex()  # type: ignore[union-attr]
    assert parsed["chat-extension"]["parsed"]["chat"] == {"track": "chat"}
    assert parsed["vp9"]["parsed"]["video"]["renditions"]["video/hd"]["codec"].startswith("vp09.")
    assert parsed["av1"]["parsed"]["video"]["renditions"]["video/hd"]["codec"].startswith("av01.")


def test_official_schema_rejects_what_it_should() -> None:
    # The checker is a real oracle: the draft-00 audio array (documented as unreadable today) fails,
    # as does a string where a number is required.
    draft = to_json(catalogs_from_real_encoders()["vp8"], "draft-00")
    bad = b'{"audio":{"renditions":{"a":{"codec":"opus","sampleRate":"48000","numberOfChannels":2}}}}'
    results = official_check([draft, bad])
    assert not results[0]["ok"]
    assert not results[1]["ok"] and any("sampleRate" in issue for issue in results[1]["issues"])
