"""docs/CONTRACT.md is the public contract, verbatim, for readers of this repository."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "CONTRACT.md"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/CONTRACT.md is not beside the checkout")
def test_the_copy_is_the_contract() -> None:
    assert (ROOT / "docs" / "CONTRACT.md").read_text() == SHARED.read_text()
