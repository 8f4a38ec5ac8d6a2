"""A page added to ``ui.pages.PAGES`` (the one list) appears in the app's menu and renders.

The page's script is written to a temporary folder and the list is patched for the test, so
the repository's ``ui/views`` stays as it is; the app, the tests and the benchmark all read
``ui.pages.PAGES``.
"""

from __future__ import annotations

import pathlib

import pytest
from streamlit.testing.v1 import AppTest

from ui import pages

UI = pathlib.Path(__file__).resolve().parents[1] / "ui"


def test_a_page_added_to_the_list_appears_in_the_app(tmp_path, monkeypatch) -> None:
    script = tmp_path / "hello_page.py"
    script.write_text('import streamlit as st\n\nst.title("Hello page")\nst.write("drawn by the new page")\n')
    added = pages.Page(str(tmp_path / "hello_page"), "Hello", "hello")
    monkeypatch.setattr(pages, "PAGES", (*pages.PAGES, added))

    at = AppTest.from_file(str(UI / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(str(script)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Hello page"
    assert "drawn by the new page" in [m.value for m in at.markdown]


def test_a_page_not_in_the_list_is_not_in_the_app(tmp_path) -> None:
    script = tmp_path / "hello_page.py"
    script.write_text('import streamlit as st\n\nst.title("Hello page")\n')
    at = AppTest.from_file(str(UI / "app.py"), default_timeout=60).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(str(script))
