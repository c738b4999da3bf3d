"""The learnable dataset generator (tests/fixtures/learnable.py) makes the clips it says it makes: every
cue can be read back from the decoded clip, the labels are as noisy as asked, and the frames stage
would keep the frames and group no two videos as re-uploads. No database: the frames stage's pure
functions and an unsaved Dataset (for its default thresholds) suffice."""

import json
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curation.lib.neardup import pairwise_distances
from curation.lib.probe import probe_summarise, video_demuxer
from curation.lib.quality import analyse_frame
from curation.models import Dataset
from curation.services.frames.candidates import frames_classify
from curation.services.frames.decode import decode_frames, working_size
from curation.services.frames.duplicates import (
    MATCH_FRACTION,
    SIGNATURE_PREFILTER,
    distances_to_one,
    frames_match_fraction,
    video_signature,
)
from curation.services.ingest.rows import KNOWN_FIELDS
from curation.services.taxonomy import taxonomy_read
from tests.fixtures.learnable import (
    AUDIO_RATE,
    BACKGROUNDS,
    LearnableSpec,
    learnable_dataset,
    learnable_topics_csv,
    topic_tone,
    topic_word,
    usv_macro_topics,
)

SPEC = LearnableSpec(
    topics=("basketball", "cooking tutorial", "pet cat"), unlearnable=("meme",), videos_per_topic=6
)


def _ffprobe(path: Path) -> dict:
    command = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, check=True, timeout=30).stdout)


def _dominant_frequency(path: Path) -> float:
    command = [
        "ffmpeg", "-nostdin", "-v", "error", "-i", str(path),
        "-f", "s16le", "-ac", "1", "-ar", str(AUDIO_RATE), "-",
    ]  # fmt: skip
    samples = np.frombuffer(
        subprocess.run(command, capture_output=True, check=True, timeout=30).stdout, "<i2"
    )
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / AUDIO_RATE)[np.argmax(spectrum)])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return learnable_dataset(tmp_path_factory.mktemp("learnable"), SPEC)


@pytest.fixture(scope="module")
def rows(dataset) -> list[dict]:
    return [json.loads(line) for line in dataset.manifest.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def decoded(dataset, rows) -> dict[str, dict]:
    """Per clip: the probe summary and the frames as the frames stage samples them (1 fps)."""
    clips = {}
    for row in rows:
        path = dataset.manifest.parent / row["video"]
        summary = probe_summarise(_ffprobe(path))
        width, height = working_size(summary.display_width, summary.display_height)
        frames = decode_frames(
            str(path),
            demuxer=video_demuxer(summary.container),
            fps=Dataset().sample_fps,
            rotation=summary.rotation,
            width=width,
            height=height,
        )
        clips[row["id"]] = {"summary": summary, "frames": [frame.rgb for frame in frames]}
    return clips


def test_the_manifest_has_one_row_per_video_in_the_ingest_format(dataset, rows):
    assert len(rows) == len(dataset.truth) == 4 * 6
    assert [row["id"] for row in rows] == list(dataset.truth)
    for row in rows:
        assert set(row) <= KNOWN_FIELDS
        assert (dataset.manifest.parent / row["video"]).is_file()
        assert row["topic"] == dataset.truth[row["id"]]["weak"]
    assert len({row["publisher"] for row in rows}) == len(rows)
    assert dataset.topics == [*SPEC.topics, *SPEC.unlearnable]


def test_every_clip_has_the_spec_size_and_duration_and_an_audio_stream(decoded):
    for clip in decoded.values():
        summary = clip["summary"]
        assert (summary.display_width, summary.display_height) == (SPEC.width, SPEC.height)
        assert summary.duration == pytest.approx(SPEC.seconds, abs=0.05)
        assert summary.fps == pytest.approx(SPEC.fps)
        assert (summary.video_codec, summary.has_audio, summary.audio_codec) == ("h264", True, "aac")
        assert len(clip["frames"]) == round(SPEC.seconds * Dataset().sample_fps)


def test_each_clips_loudest_frequency_is_its_audio_cues_tone(dataset, rows):
    for row in rows:
        tone = topic_tone(SPEC, dataset.truth[row["id"]]["cues"]["audio"])
        # The FFT of 4 s resolves 0.25 Hz; the nearest other tone is 250 Hz away.
        assert _dominant_frequency(dataset.manifest.parent / row["video"]) == pytest.approx(tone, abs=2)


def test_each_frames_mean_colour_is_nearest_its_visual_cues_background(dataset, decoded):
    backgrounds = np.array(BACKGROUNDS[: len(SPEC.topics)], np.float64)
    for external_id, clip in decoded.items():
        cue = dataset.truth[external_id]["cues"]["visual"]
        for frame in clip["frames"]:
            mean = frame.reshape(-1, 3).mean(axis=0)
            nearest = SPEC.topics[int(np.argmin(np.linalg.norm(backgrounds - mean, axis=1)))]
            assert nearest == cue, external_id


def test_each_title_holds_its_text_cues_word_and_no_other_topics(dataset, rows):
    for row in rows:
        cue = dataset.truth[row["id"]]["cues"]["text"]
        assert topic_word(cue) in row["title"]
        assert not [t for t in dataset.topics if t != cue and topic_word(t) in row["title"]]
    assert len({row["title"] for row in rows}) > len(rows) // 2  # varied, not one template


def test_exactly_the_usv_share_of_weak_labels_is_wrong(dataset):
    truth = dataset.truth.values()
    noisy = [t for t in truth if t["noise"]]
    assert len(noisy) / len(truth) == round(0.217 * len(truth)) / len(truth)
    assert all((t["weak"] != t["topic"]) == t["noise"] for t in truth)
    assert {t["weak"] for t in truth} <= set(dataset.topics)


def test_learnable_topics_carry_their_own_cue_most_often(dataset):
    for modality in ("visual", "audio", "text"):
        own = [t["cues"][modality] == t["topic"] for t in dataset.truth.values() if t["topic"] in SPEC.topics]
        # 18 draws at p = 0.65: a share outside 0.4-0.9 has odds under 1 %.
        assert 0.4 <= np.mean(own) <= 0.9, modality
        assert not all(own)


def test_the_unlearnable_topics_cues_spread_over_the_learnable_topics(dataset):
    unlearnable = [t for t in dataset.truth.values() if t["topic"] in SPEC.unlearnable]
    cues = Counter(cue for t in unlearnable for cue in t["cues"].values())
    assert set(cues) == set(SPEC.topics)
    assert max(cues.values()) / sum(cues.values()) <= 0.6
    # Independent per modality: no video has one topic's cue in all three (as a learnable video
    # with all cues right would).
    assert sum(len(set(t["cues"].values())) == 1 for t in unlearnable) < len(unlearnable) / 2


def test_the_frames_stage_keeps_the_frames_and_a_candidate_per_video(decoded):
    for external_id, clip in decoded.items():
        analyses = [analyse_frame(frame) for frame in clip["frames"]]
        verdicts = frames_classify(
            [a.scores for a in analyses], [a.descriptor for a in analyses], dataset=Dataset()
        )
        flagged = [v for v in verdicts if v.is_dark or v.is_blurry or v.is_uniform]
        assert not flagged, (external_id, [a.scores for a in analyses])
        assert any(v.is_candidate for v in verdicts)


def test_no_two_videos_are_near_duplicates(decoded):
    """The frames stage's re-upload rule (duplicates.video_duplicates_find) over every pair, and
    no frame of one video within the near-duplicate threshold of another video's frames."""
    threshold = Dataset().near_duplicate_threshold
    descriptors = {i: [analyse_frame(f).descriptor for f in clip["frames"]] for i, clip in decoded.items()}
    ids = list(descriptors)
    signatures = np.stack([video_signature(descriptors[i]) for i in ids])
    duplicates = []
    for a, first in enumerate(ids):
        close = np.flatnonzero(distances_to_one(signatures[a], signatures) <= SIGNATURE_PREFILTER)
        for b in close[close > a]:
            fraction = frames_match_fraction(descriptors[first], descriptors[ids[b]], threshold)
            if fraction >= MATCH_FRACTION:
                duplicates.append((first, ids[b]))
    assert duplicates == []
    owners = np.repeat(np.arange(len(ids)), [len(descriptors[i]) for i in ids])
    distances = pairwise_distances([d for i in ids for d in descriptors[i]])
    assert distances[owners[:, None] != owners[None, :]].min() > threshold


def test_a_second_call_reuses_the_clips_and_another_spec_makes_new_ones(tmp_path):
    tiny = LearnableSpec(topics=("yoga", "pet cat"), unlearnable=(), videos_per_topic=1, seconds=1.0)
    first = learnable_dataset(tmp_path, tiny)
    clip = tmp_path / json.loads(first.manifest.read_text().splitlines()[0])["video"]
    made = clip.stat().st_mtime_ns
    again = learnable_dataset(tmp_path, tiny)
    assert (first.reused, again.reused) == (False, True)
    assert again.truth == first.truth and clip.stat().st_mtime_ns == made
    other = learnable_dataset(tmp_path, replace(tiny, seed=1))
    assert not other.reused and clip.stat().st_mtime_ns != made
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["pet-cat-000.mp4", "yoga-000.mp4"]


def test_the_topics_csv_reads_as_a_taxonomy_of_usv_topics(tmp_path):
    topics = taxonomy_read(learnable_topics_csv(tmp_path / "topics.csv", SPEC))
    macros = usv_macro_topics()
    assert [(t.name, t.macro_topic) for t in topics] == [
        (n, macros[n]) for n in [*SPEC.topics, *SPEC.unlearnable]
    ]


def test_the_spec_refuses_topics_usv_does_not_have():
    with pytest.raises(ValueError, match="not USV topics"):
        LearnableSpec(topics=("basketball", "knitting"))
