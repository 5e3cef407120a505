"""The system's own error messages, in English and as glibc's Chinese catalogues word them.

A user pastes what their client printed, and on Linux that is ``strerror()`` or
``gai_strerror()`` in their locale. The Chinese wordings are read from the catalogues Debian
installs (package libc-l10n, which ``make test`` installs when it is missing), so a pattern
written from memory cannot pass for the real text.
"""

import gettext
from pathlib import Path

import pytest

from pasv.diagnostics.classify import classify_message
from pasv.diagnostics.explain import explain

# glibc's message ids (its English texts) and the kind each one is
MESSAGES = {
    "Connection refused": "connection_refused",
    "Connection timed out": "connection_timed_out",
    "Connection reset by peer": "disconnected_at_connect",
    "Software caused connection abort": "disconnected_at_connect",
    "Broken pipe": "disconnected_at_connect",
    "No route to host": "host_unreachable",
    "Network is unreachable": "host_unreachable",
    "Name or service not known": "dns_failure",
    "Temporary failure in name resolution": "dns_failure",
    "No address associated with hostname": "dns_failure",
}
# the same failure met on a data connection
ON_DATA = {
    "Connection refused": "data_connection_refused",
    "Connection timed out": "data_connection_timed_out",
}


def catalogue(locale: str) -> gettext.GNUTranslations:
    with (Path("/usr/share/locale") / locale / "LC_MESSAGES" / "libc.mo").open("rb") as f:
        return gettext.GNUTranslations(f)


@pytest.mark.parametrize("locale", [None, "zh_CN", "zh_TW"])
@pytest.mark.parametrize("msgid", sorted(MESSAGES))
def test_libc_error_messages_are_recognised(locale: str | None, msgid: str) -> None:
    message = msgid if locale is None else catalogue(locale).gettext(msgid)
    if locale is not None:
        assert message != msgid, f"{locale} has no translation of {msgid!r}"
    [found] = explain(message)
    assert found.diagnosis is not None, message
    assert found.diagnosis.kind == MESSAGES[msgid], message
    if msgid in ON_DATA:
        on_data = classify_message(message, "data")
        assert on_data is not None and on_data.kind == ON_DATA[msgid], message
