"""A text parameter is checked like a number: its form and its length, before anything is queued."""

from __future__ import annotations

import pytest

from engine.backends import registry
from engine.errors import SongBridgeError


@pytest.mark.parametrize("params, says", [
    ({"language": "english!"}, "parameter language: must be a language code"),
    ({"language": "../etc"}, "parameter language: must be a language code"),
    ({"caption": "x" * 600}, "parameter caption: must be text of at most 512 characters"),
])
def test_a_text_option_of_the_wrong_form_or_length_is_refused_by_name(params: dict, says: str) -> None:
    with pytest.raises(SongBridgeError, match=says):
        registry.check_request_params("ace-step", params, "parameter {name}")


def test_good_text_options_pass_as_given() -> None:
    ok = {"language": "es-MX", "caption": "warm synth pop, female vocal"}
    assert registry.check_request_params("ace-step", ok, "parameter {name}") == ok
