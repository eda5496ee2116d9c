"""The check every refusal passes: a qshift error that says what was expected, what was received and how to fix it."""

import qshift


def assert_helpful(err, *words):
    """``err`` (a ``pytest.raises`` result) is a :class:`qshift.QShiftError` rendering expected / received / fix
    and mentioning every one of ``words``."""
    text = str(err.value)
    assert isinstance(err.value, qshift.QShiftError), type(err.value)
    for label in ("expected:", "received:", "fix:"):
        assert label in text, text
    for word in words:
        assert word in text, text
