import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.features import audio

torch.set_num_threads(1)

VIDEOS = Path("/work/shared/data/videos")
RATE = audio.SAMPLE_RATE


def tone(hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def filter_centres_hz() -> np.ndarray:
    bank = audio.mel_filterbank()
    fft_hz = np.linspace(0, RATE / 2, bank.shape[1])
    return fft_hz[bank.argmax(axis=1)]


def test_the_filterbank_is_slaney_and_no_mel_filter_is_empty():
    bank = audio.mel_filterbank()
    assert bank.shape == (audio.N_MELS, audio.N_FFT // 2 + 1)
    assert float(audio._hz_to_mel(np.array(1000.0))) == pytest.approx(15.0)
    assert float(audio._mel_to_hz(audio._hz_to_mel(np.array(3000.0)))) == pytest.approx(3000.0)
    assert (bank > 0).sum(axis=1).min() >= 2
    assert np.all(np.diff(filter_centres_hz()) >= 0)


def test_log_mel_frames_are_torch_stft_centred_frames():
    pcm = np.random.default_rng(0).normal(0, 0.1, 40_000).astype(np.float32)
    spectrum = torch.stft(
        torch.from_numpy(pcm), 512, 256, 512, torch.hann_window(512), center=True,
        pad_mode="constant", return_complex=True,
    )  # fmt: skip
    expected = np.log(audio.mel_filterbank() @ spectrum.abs().square().numpy() + 1e-6).T
    got = audio.log_mel(pcm)
    assert got.shape == (1 + 40_000 // 256, 80) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("hz", [440.0, 1760.0])
def test_the_peak_mel_bin_is_the_filter_centred_nearest_the_tone(hz):
    clips = audio.log_mel_clips(tone(hz, 4.0))
    assert clips.shape == (2, 80, 128)
    peak = int(clips.mean(axis=(0, 2)).argmax())
    nearest = int(np.abs(filter_centres_hz() - hz).argmin())
    assert abs(peak - nearest) <= 1, (peak, nearest)


def test_the_peak_bin_moves_up_with_the_tone():
    low = audio.audio_vector(tone(440, 3.0)).vector
    high = audio.audio_vector(tone(1760, 3.0)).vector
    assert int(high[:80].argmax()) > int(low[:80].argmax()) + 20


def test_doubling_the_amplitude_adds_log_4_to_the_peak_bin():
    quiet = audio.audio_vector(tone(1000, 3.0, 0.2)).vector
    loud = audio.audio_vector(tone(1000, 3.0, 0.4)).vector
    peak = int(quiet[:80].argmax())
    assert loud[peak] - quiet[peak] == pytest.approx(np.log(4.0), abs=1e-3)
    assert loud[160] - quiet[160] == pytest.approx(np.log(2.0), abs=1e-3)  # mean log RMS


@pytest.mark.parametrize(
    "seconds, clips", [(5.0, 3), (4.99, 2), (4.0, 2), (2.0, 1), (2.9, 1), (1.0, 1), (0.3, 1), (0.0, 0)]
)
def test_clip_count_keeps_a_tail_of_at_least_one_second_or_a_lone_short_clip(seconds, clips):
    pcm = tone(300, seconds)
    assert audio.log_mel_clips(pcm).shape == (clips, 80, 128)


def test_five_seconds_gives_two_full_clips_and_a_third_padded_with_silence():
    pcm = tone(300, 5.0)
    clips = audio.log_mel_clips(pcm)
    whole = audio.log_mel(pcm)
    # Clip k's frame j is centred on sample 32000k + 256(j - 1): frame 125k + j - 1 of the signal.
    np.testing.assert_allclose(clips[1, :, 1:], whole[125 : 125 + 127].T, atol=1e-5)
    np.testing.assert_allclose(clips[2, :, 1:64], whole[250:313].T, atol=1e-5)
    # The third clip holds 1 s of sound; frames whose window lies wholly past the end are the floor.
    assert np.all(clips[2, :, 68:] == pytest.approx(np.log(audio.LOG_FLOOR), abs=1e-5))
    assert clips[2, :, :60].max() > 0


def test_silence_and_empty_audio_give_no_vector_and_say_why():
    assert audio.audio_vector(np.zeros(RATE * 3, dtype=np.float32)) == audio.AudioFeature(
        None, 2, "the audio track is silent"
    )
    assert audio.audio_vector(np.full(RATE, 5e-5, dtype=np.float32)).reason == "the audio track is silent"
    assert audio.audio_vector(audio.pcm_from_bytes(b"")) == audio.AudioFeature(
        None, 0, "the audio track is empty"
    )
    short = audio.audio_vector(tone(440, 0.2))
    assert short.vector is None and short.reason.startswith("the audio track is too short")
    assert audio.log_mel(np.zeros(0)).shape == (0, 80)
    assert audio.log_mel_clips(np.zeros(0)).shape == (0, 80, 128)


def test_a_short_clip_of_sound_still_gets_a_vector():
    result = audio.audio_vector(tone(440, 0.3))
    assert result.clips == 1 and result.reason == ""
    assert result.vector.shape == (audio.AUDIO_DIM,) and np.isfinite(result.vector).all()


def test_pcm_from_bytes_reads_s16le_and_drops_a_trailing_odd_byte():
    data = np.array([-32768, 0, 16384, 32767], dtype="<i2").tobytes()
    np.testing.assert_array_equal(audio.pcm_from_bytes(data), [-1.0, 0.0, 0.5, 32767 / 32768])
    assert audio.pcm_from_bytes(data + b"\x01").shape == (4,)
    assert audio.pcm_from_bytes(data).dtype == np.float32


def test_stereo_arrays_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="1-D"):
        audio.log_mel(np.zeros((2, 1000), dtype=np.float32))


def decoded(name: str) -> np.ndarray:
    """The first audio track as the audio stage reads it: ffmpeg to s16le 16 kHz mono."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(VIDEOS / name), "-map", "0:a:0", "-vn",
         "-ac", "1", "-ar", str(RATE), "-f", "s16le", "pipe:1"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return audio.pcm_from_bytes(done.stdout)


def test_a_real_soundtrack_decoded_by_ffmpeg():
    pcm = decoded("moviepy_chaplin.mp4")  # 9.6 s, mp3 44.1 kHz stereo: resampled and mixed down
    assert 9.5 < len(pcm) / RATE < 9.7
    clips = audio.log_mel_clips(pcm)
    assert clips.shape == (5, 80, 128)  # 4 full clips and 1.6 s padded
    assert np.isfinite(clips).all()
    result = audio.audio_vector(pcm)
    assert result.reason == "" and result.clips == 5
    assert result.vector.dtype == np.float32 and result.vector.shape == (audio.AUDIO_DIM,)
    assert np.isfinite(result.vector).all()
    # Real sound varies across bins and over time, unlike the steady tones above.
    assert result.vector[80:160].min() > 0.15 and result.vector[161] > 0.2 and result.vector[162] > 0.3


def test_a_real_track_of_digital_silence_gets_the_silent_reason():
    pcm = decoded("imageio_cockatoo.mp4")  # its mp3 track decodes to 13.9 s of zeros
    assert len(pcm) / RATE > 13
    assert audio.audio_vector(pcm) == audio.AudioFeature(None, 7, "the audio track is silent")


def test_the_version_names_the_recipe():
    assert audio.audio_version() == "logmel80-slaney-n512-h256-stats164-v1"
    assert audio.AUDIO_DIM == 164
