"""core.urls: the one place that reads, checks and masks database URLs (a URL, or free text quoting one)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from alliance_finance.core.urls import UnusableURL, check_url, mask_secrets, mask_url, normalise_url

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize("url, expected", [
    ("postgresql://loader:s3cr3t-Pa55@db:5432/alliance", "postgresql://loader:***@db:5432/alliance"),
    ("mysql+pymysql://root:s3cr3t-Pa55@127.0.0.1:3306/erp", "mysql+pymysql://root:***@127.0.0.1:3306/erp"),
    # an unescaped "@" in the password: the parser would show its tail as the host
    ("postgresql://loader:s3cr3t@Pa55@db/alliance", "postgresql://loader:***@db/alliance"),
    ("postgresql://loader@db/alliance", "postgresql://loader@db/alliance"),
    ("sqlite:////var/lib/alliance/warehouse.db", "sqlite:////var/lib/alliance/warehouse.db"),
])
def test_mask_url_hides_the_password_and_keeps_the_rest(url, expected):
    assert mask_url(url) == expected
    assert "Pa55" not in mask_url(url)


def test_mask_url_of_a_url_object():
    url = make_url("postgresql+psycopg://loader:s3cr3t-Pa55@db:5432/alliance")
    assert mask_url(url) == "postgresql+psycopg://loader:***@db:5432/alliance"


def test_mask_url_of_text_that_is_no_url_still_hides_credentials():
    assert mask_url("not a url //loader:s3cr3t@db") == "not a url //loader:***@db"


@pytest.mark.parametrize("text", [
    'connection to server at "db" failed for postgresql://loader:s3cr3t-Pa55@db:5432/alliance: timeout',
    "two: postgresql://a:s3cr3t-Pa55@h1/x and mysql://b:s3cr3t-Pa55@h2/y",
    "a password with a slash: postgresql://a:s3cr3t/Pa55@h1/x",
    "an empty user: postgresql://:s3cr3t-Pa55@h1/x",
])
def test_mask_secrets_hides_any_credentials_in_free_text(text):
    masked = mask_secrets(text)
    assert "s3cr3t" not in masked and "Pa55" not in masked
    assert ":***@h" in masked or ":***@db" in masked


def test_mask_secrets_masks_the_given_urls_and_bare_passwords():
    url = "postgresql://loader:s3cr3t-Pa55@db/alliance"
    text = f"could not upgrade {url}: password authentication failed (tried s3cr3t-Pa55)"
    assert mask_secrets(text, [url, SECRET]) == (
        "could not upgrade postgresql://loader:***@db/alliance: password authentication failed (tried ***)")
    # a sqlalchemy URL object, None among the URLs, and one URL given alone (not as its characters)
    assert mask_secrets(text, (make_url(url), None, SECRET)) == mask_secrets(text, [url, SECRET])
    assert mask_secrets(f"at {url}", url) == "at postgresql://loader:***@db/alliance"


def test_mask_secrets_leaves_text_without_secrets_alone():
    text = "WP ERP database sqlite:////data/erp.db: no such table: journal_lines"
    assert mask_secrets(text) == text
    assert mask_secrets(text, ["sqlite:////data/erp.db"]) == text


def test_normalise_url_picks_the_installed_drivers():
    assert normalise_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    assert normalise_url("mysql://u@h/d").drivername == "mysql+pymysql"
    assert normalise_url("mariadb://u@h/d").drivername == "mysql+pymysql"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite"
    assert normalise_url("postgresql+psycopg2://u@h/d").drivername == "postgresql+psycopg2"


@pytest.mark.parametrize("url, message", [
    ("warehouse.db", "is not a database URL"),
    ("postgresql://loader:s3cr3t@Pa55@db/alliance", "unescaped '@'"),
    ("postgresql://loader:s3cr3t-Pa55@db:port/alliance", "--warehouse postgresql://loader:***@db"),
    ("nosuchdb://loader:s3cr3t-Pa55@db/alliance", "unknown database driver 'nosuchdb'"),
])
def test_check_url_refuses_an_unusable_url_without_showing_its_password(url, message):
    with pytest.raises(UnusableURL) as caught:
        check_url(url)
    assert message in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "Pa55" not in str(caught.value)


def test_check_url_returns_the_normalised_url():
    assert check_url("postgresql://loader:s3cr3t-Pa55@db/alliance", "--source-url").drivername == "postgresql+psycopg"
