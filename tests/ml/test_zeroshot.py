import numpy as np
import pytest

from ml.zeroshot import centroid_zero_shot, text_zero_shot


def test_text_zero_shot_is_the_cosine_similarity():
    videos = np.array([[3.0, 4.0], [1.0, 0.0]])
    topics = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    got = text_zero_shot(videos, topics)
    assert got.shape == (2, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], [0.6, 0.8, -7 / (5 * np.sqrt(2))], atol=1e-6)
    np.testing.assert_allclose(got[1], [1.0, 0.0, -1 / np.sqrt(2)], atol=1e-6)


def test_a_video_without_text_gets_a_nan_row_and_the_others_are_untouched():
    videos = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 5.0]])
    topics = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = text_zero_shot(videos, topics)
    assert np.isnan(got[1]).all()
    assert np.isfinite(got[[0, 2]]).all()
    np.testing.assert_allclose(got[2], [0.0, 1.0], atol=1e-6)


def test_mismatched_dimensions_are_refused():
    with pytest.raises(ValueError, match="dimensions differ"):
        text_zero_shot(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="2-D"):
        text_zero_shot(np.ones(3), np.ones((4, 3)))


def test_centroid_zero_shot_compares_with_each_topic_mean_direction():
    labelled = np.array([[1.0, 0.0], [0.0, 10.0], [0.0, 1.0], [0.0, 0.0]])
    labels = np.array([0, 0, 2, 1])  # topic 1's only example is missing (a zero vector)
    vectors = np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    got = centroid_zero_shot(vectors, labelled, labels, 4)
    assert got.shape == (3, 4) and got.dtype == np.float32
    # Topic 0's examples count once each whatever their length: centroid along (1, 1).
    np.testing.assert_allclose(got[0, [0, 2]], [1.0, 1 / np.sqrt(2)], atol=1e-6)
    np.testing.assert_allclose(got[1, [0, 2]], [1 / np.sqrt(2), 0.0], atol=1e-6)
    assert np.isnan(got[:, 1]).all() and np.isnan(got[:, 3]).all()  # no usable example
    assert np.isnan(got[2]).all()  # the vector itself is missing


def test_centroid_zero_shot_refuses_bad_labels():
    labelled = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        centroid_zero_shot(np.ones((1, 3)), labelled, np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="shape"):
        centroid_zero_shot(np.ones((1, 3)), labelled, np.array([0]), 2)
    with pytest.raises(ValueError, match="integers"):
        centroid_zero_shot(np.ones((1, 3)), labelled, np.array([0.0, 1.0]), 2)


def test_centroid_zero_shot_without_labels_is_all_nan():
    got = centroid_zero_shot(np.ones((2, 3)), np.zeros((0, 3)), np.zeros(0, dtype=np.int64), 5)
    assert got.shape == (2, 5) and np.isnan(got).all()
