"""``SecretScrubber``: the one scrub both the http connector and the WASM host use."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from hakiri.core.secrets import SecretScrubber, secret_forms

VALUE = 'tok/en+1 "é"&x=y'


def test_every_echoed_form_becomes_the_reference() -> None:
    scrubber = SecretScrubber({VALUE: "TOKEN"})
    echoed = [
        VALUE,
        quote(VALUE, safe=""),
        quote(VALUE, safe="").lower(),
        quote_plus(VALUE),
        json.dumps(VALUE)[1:-1],
        json.dumps(VALUE, ensure_ascii=False)[1:-1],
        json.dumps(VALUE)[1:-1].replace("/", "\\/"),
    ]
    for form in echoed:
        body = f'{{"echo": "before {form} after"}}'.encode()
        assert scrubber.scrub(body) == b'{"echo": "before secret://TOKEN after"}', form
    assert scrubber.scrub_text(f"x{VALUE}y") == "xsecret://TOKENy"
    assert scrubber.values == ((VALUE, "secret://TOKEN"),)


def test_a_longer_value_is_replaced_whole() -> None:
    scrubber = SecretScrubber({"abcd": "SHORT", "abcdefgh": "LONG"})
    assert scrubber.scrub(b"abcdefgh abcd") == b"secret://LONG secret://SHORT"


def test_nothing_to_scrub_is_falsy_and_changes_nothing() -> None:
    scrubber = SecretScrubber({})
    assert not scrubber
    assert scrubber.scrub(b"data") == b"data"
    assert scrubber.scrub_text("data") == "data"


@given(st.text(min_size=1, max_size=40))
def test_no_form_of_a_value_survives_a_scrub(value: str) -> None:
    scrubber = SecretScrubber({value: "S"})
    text = " | ".join(sorted(secret_forms(value)))
    scrubbed = scrubber.scrub_text(text)
    assert value not in scrubbed or value in "secret://S"
