"""Repository-wide pytest set-up: nbval compares checked notebook outputs after the
substitutions in tests/nbval_sanitize.cfg, whichever folder pytest is started from."""
from pathlib import Path

SANITIZE = Path(__file__).resolve().parent / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config):
    if getattr(config.option, "nbval_sanitize_with", "absent") is None:
        config.option.nbval_sanitize_with = str(SANITIZE)
