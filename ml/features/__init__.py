"""Feature extractors of the baseline topic models: plain arrays in, numpy out, no database.

- `ml.features.audio`: log-mel spectrograms (USV Stage III) and the audio vector
  (`audio_vector`, `log_mel_clips`, `pcm_from_bytes`, `audio_version`).
- `ml.features.text`: all-MiniLM-L6-v2 sentence vectors (`text_encoder`, `topic_text`).
- `ml.features.visual`: TSN frame sampling and EfficientNet-Lite0 embeddings
  (`tsn_indices`, `visual_encoder`).

Import the submodule you need: this package imports nothing, so `import ml.features` does not
bring torch into a process that only asks for a constant.
"""
