"""Where the tests' files are: the project root, recorded payloads and the sample diff."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
WEBHOOKS = FIXTURES / "webhooks"
SAMPLE_DIFF = ROOT / "examples" / "sample.diff"
