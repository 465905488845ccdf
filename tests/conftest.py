"""Shared test configuration.

``tests/fixtures`` holds notebooks and grading files used as *data* by the tests: never
collect them as tests themselves (nbval would execute the fixture notebooks).
"""
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # tests never open windows
os.environ.setdefault("NBLIB_QUIET", "1")

ROOT = Path(__file__).resolve().parents[1]
collect_ignore = ["fixtures"]
