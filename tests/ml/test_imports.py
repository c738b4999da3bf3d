import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ml_loads_without_django_in_a_fresh_interpreter():
    modules = [p.stem for p in (ROOT / "ml").glob("*.py") if p.stem != "__init__"]
    code = (
        "import sys, importlib\n"
        f"for name in {modules!r}: importlib.import_module('ml.' + name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(len(sys.modules)); assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert {"aggregate", "intervals", "agreement", "splits"} <= set(modules)
