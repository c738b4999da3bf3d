import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ml_modules() -> list[str]:
    """Every module under ml/, packages included (ml.features, ml.features.audio, …)."""
    names = []
    for path in sorted((ROOT / "ml").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_ml_loads_without_django_in_a_fresh_interpreter():
    modules = ml_modules()
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(len(sys.modules)); assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {"ml.aggregate", "ml.intervals", "ml.agreement", "ml.splits"} <= set(modules)
    assert {"ml.features", "ml.features.audio", "ml.features.text", "ml.features.visual"} <= set(modules)
    assert {"ml.weights", "ml.zeroshot"} <= set(modules)


def test_importing_the_feature_modules_does_not_bring_torch():
    """torch (about 1 s and 300 MB) loads when a model is first used, not when a stage imports
    a constant such as SAMPLE_RATE."""
    names = "ml.features, ml.features.audio, ml.features.text, ml.features.visual, ml.weights, ml.zeroshot"
    code = f"import sys, {names}; assert 'torch' not in sys.modules, 'torch'\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
