import threading

import numpy as np
import pytest
import torch

from ml.features.text import TEXT_DIM, text_encoder, topic_text
from ml.weights import MODEL_FILES

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def encoder():
    return text_encoder()


def test_the_encoder_is_loaded_once(encoder):
    assert text_encoder() is encoder


def test_the_same_sentence_twice_gives_identical_unit_vectors(encoder):
    vectors = encoder.encode(
        ["my cat knocked the vase off the table", "my cat knocked the vase off the table"]
    )
    assert vectors.shape == (2, TEXT_DIM) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)


def test_a_vector_does_not_depend_on_its_batch(encoder):
    alone = encoder.encode(["golden retriever sees snow for the first time"])
    among = encoder.encode(["a", "golden retriever sees snow for the first time", "a much longer text " * 20])
    np.testing.assert_allclose(alone[0], among[1], atol=1e-5)


def test_related_sentences_are_closer_than_unrelated_ones(encoder):
    kitten, cat, stocks, recipe = encoder.encode(
        [
            "a kitten playing with a ball of yarn",
            "my cat chases wool around the living room",
            "the stock market fell three percent today",
            "how to cook garlic butter shrimp",
        ]
    )
    assert kitten @ cat > 0.4
    assert kitten @ cat > max(kitten @ stocks, kitten @ recipe) + 0.3
    assert stocks @ recipe < 0.2


def test_blank_texts_give_zero_rows_and_the_rest_keep_their_place(encoder):
    vectors = encoder.encode(["", "football highlights", "   \n", "football highlights"])
    np.testing.assert_array_equal(vectors[0], 0)
    np.testing.assert_array_equal(vectors[2], 0)
    np.testing.assert_allclose(vectors[1], vectors[3], atol=1e-6)
    assert np.linalg.norm(vectors[1]) == pytest.approx(1.0, abs=1e-5)
    assert encoder.encode([]).shape == (0, TEXT_DIM)
    assert encoder.encode(["", " "]).tolist() == np.zeros((2, TEXT_DIM)).tolist()


def test_the_version_names_the_model_and_its_weights(encoder):
    expected = "all-MiniLM-L6-v2@" + MODEL_FILES["all-MiniLM-L6-v2/model.safetensors"].sha256[:12]
    assert encoder.version == expected == "all-MiniLM-L6-v2@53aa51172d14"
    assert text_encoder().version == expected


def test_threads_sharing_the_encoder_get_the_same_vectors(encoder):
    texts = [f"video number {i} about skateboarding tricks" for i in range(8)]
    expected = encoder.encode(texts)
    results: list[np.ndarray] = []

    def work():
        results.append(encoder.encode(texts))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_topic_text_is_the_name_then_new_synonyms():
    assert (
        topic_text("pet cat", ["kitten", " Pet Cat ", "", "kitty", "kitten"], "pet")
        == "pet cat, kitten, kitty"
    )
    assert topic_text("ping-pong", [], "sports") == "ping-pong"
