"""Operator texts per language: ``name.LANG`` keys or a ``[messages.LANG]`` table."""

from __future__ import annotations

import pytest

from pasv.policy.options import Messages


def test_flat_and_table_forms_and_the_round_trip() -> None:
    found = Messages.from_mapping(
        {"quota": "Full.", "quota.zh": "满了。", "zh-CN": {"permission": "不许 {perm}:{path}"}}
    )
    assert found.quota == "Full."
    assert found.translations == {
        "zh-Hans": {"quota": "满了。", "permission": "不许 {perm}:{path}"}
    }
    assert Messages.from_mapping(found.changed()) == found
    assert Messages.from_mapping({"quota.en": "Full."}).quota == "Full."


@pytest.mark.parametrize(
    ("values", "problem"),
    [({"quota.fr": "x"}, "unknown language 'fr'"), ({"nothing.zh": "x"}, "unknown message")],
)
def test_unknown_languages_and_names_are_refused(values: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Messages.from_mapping(values)
