"""Database URLs: the one place that reads, checks and masks them.

Every message that may show a warehouse's or a source's URL, or a driver's error that quotes one,
goes through :func:`mask_url` (a URL) or :func:`mask_secrets` (free text): there is no other
masking routine. A password is always shown as ``***``.
"""

from __future__ import annotations

import re
from typing import Iterable

from sqlalchemy.engine import URL, make_url

#: ``//user:password@`` in free text. A password may hold an unescaped ``@`` (or ``/``), so the
#: match runs to the last ``@`` of the word: it may hide a little more than the password, never less.
_CREDENTIALS = re.compile(r"(//[^:/@\s]*):\S*@")


def normalise_url(url: str | URL) -> URL:
    """A plain ``postgresql://`` URL uses psycopg 3 and a plain ``mysql://`` one PyMySQL, the drivers
    this project installs."""
    u = make_url(url) if isinstance(url, str) else url
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.drivername in ("mysql", "mariadb"):
        u = u.set(drivername="mysql+pymysql")
    return u


def mask_url(url: str | URL) -> str:
    """The URL with any password replaced by ``***``: safe for logs and messages."""
    if isinstance(url, str) and url.count("@") > 1:
        # the parser would split such a password at its first "@" and show the rest as the host
        return mask_secrets(url)
    try:
        u = make_url(url) if isinstance(url, str) else url
        return u.render_as_string(hide_password=True)
    except Exception:  # not a URL at all: mask anything that looks like user:password@
        return mask_secrets(str(url))


def mask_secrets(text: str, urls: Iterable[str | URL | None] | str | URL = ()) -> str:
    """``text`` (e.g. a driver's error message) with each of ``urls`` masked where it appears, each
    bare secret among them (a password: no ``://``) replaced by ``***``, and then any
    ``//user:password@`` left masked."""
    if isinstance(urls, (str, URL)):
        urls = (urls,)  # one URL, not a sequence of characters
    for secret in urls:
        if isinstance(secret, URL):
            secret = secret.render_as_string(hide_password=False)
        if secret:
            text = text.replace(secret, mask_url(secret) if "://" in secret else "***")
    return _CREDENTIALS.sub(r"\1:***@", text)


class UnusableURL(ValueError):
    """A database URL that cannot work as given; the message never shows its password."""


def check_url(url: str, what: str = "--warehouse") -> URL:
    """Parse and check a database URL before anything connects with it.

    Refuses, with a message that names the problem and never the password: text that is not a URL,
    a port that is not a number, a driver this project does not install, and an ``@`` left
    unescaped in the user or password part (the URL would be split at the wrong ``@`` and a piece of
    the password would end up in the host name, and in the driver's error messages).
    """
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise UnusableURL(f"{what} is not a database URL (expected e.g. postgresql://user@host/db or sqlite:///file.db)")
    authority = rest.split("/", 1)[0]
    if authority.count("@") > 1:
        raise UnusableURL(f"{what}: the user or password holds an unescaped '@'; write it as %40")
    try:
        parsed = normalise_url(text)
        parsed.get_dialect()
    except ValueError as exc:
        raise UnusableURL(f"{what} {mask_url(text)}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. NoSuchModuleError for an unknown driver
        raise UnusableURL(f"{what} {mask_url(text)}: unknown database driver '{scheme}' "
                          f"({type(exc).__name__})") from None
    return parsed
