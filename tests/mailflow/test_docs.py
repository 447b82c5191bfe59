"""docs/mail-flow.md names every assumption, verdict, message class and finding ID the model
has, so the page cannot fall behind the code."""
from __future__ import annotations

from pathlib import Path

from exoform.engine.mailflow import ASSUMPTIONS, Assumption, FindingCode, MessageClass, Verdict

DOC = Path(__file__).resolve().parents[2] / "docs" / "mail-flow.md"


def test_the_page_names_every_assumption_verdict_class_and_finding() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert set(ASSUMPTIONS) == set(Assumption)
    for assumption in Assumption:
        assert f"`{assumption.value}`" in text, assumption
    for verdict in Verdict:
        assert f"`{verdict.value}`" in text, verdict
    for message_class in MessageClass:
        assert f"`{message_class.value}`" in text, message_class
    for code in FindingCode:
        assert f"`{code.value}:<" in text, code
