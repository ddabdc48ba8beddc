"""The `.venv/bench` virtual environment (PyTorch, transformers: bench/requirements.txt) that the
scripts comparing against transformers run in."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bench")
REQUIREMENTS = os.path.join(ROOT, "bench", "requirements.txt")


def ensure(script):
    """Re-run the calling script inside the bench venv, installing it once (large)."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([python, "-c", "import torch, transformers"], capture_output=True).returncode != 0:
        print(f"{script}: installing PyTorch and transformers into .venv/bench (large, once)", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--progress-bar", "off", "-r", REQUIREMENTS], check=True)
    os.execv(python, [python, *sys.argv])
