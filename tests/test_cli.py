"""The command line as a user meets it: usage errors exit 2 with a message that says what is wrong,
and never shows a password."""

from __future__ import annotations

import signal
import sys

import pytest

from alliance_finance.cli import main


@pytest.mark.parametrize(
    "url,expected",
    [
        ("postgresql://loader:S3cretPw@db:notaport/alliance", "invalid literal"),
        ("nosuchdb://loader:S3cretPw@db/alliance", "unknown database driver"),
        ("postgresql://loader:S3cret@Pw@db/alliance", "unescaped '@'"),
        ("not a url at all", "not a database URL"),
    ],
    ids=["port-not-a-number", "unknown-driver", "unescaped-at", "not-a-url"],
)
@pytest.mark.parametrize("command", [["status"], ["report", "--out", "OUT"], ["run", "--sources", "SRC"]])
def test_an_unusable_warehouse_url_is_a_usage_error_that_hides_the_password(command, url, expected, capsys, tmp_path):
    argv = [part.replace("OUT", str(tmp_path / "r")).replace("SRC", str(tmp_path)) for part in command]
    assert main(argv + ["--warehouse", url]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "S3cret" not in err and "Pw" not in err


def test_no_command_and_wrong_usage_exit_2(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--out", "x", "--from-fy", "2018", "--to-fy", "2014"])
    assert exc.value.code == 2
    assert "--from-fy 2018 is after --to-fy 2014" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "--sources", "x", "--force", "XX"])
    assert exc.value.code == 2


def test_run_needs_a_source(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--warehouse", "sqlite:///x.db"])
    assert exc.value.code == 2
    assert "--sources" in capsys.readouterr().err


def test_source_url_names_a_configured_force_and_its_url_is_checked_without_showing_the_password(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--sources", str(tmp_path), "--source-url", "XX=sqlite:///erp.db"])
    assert exc.value.code == 2
    assert "no force 'XX' in dags/forces.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["run", "--source-url", "sqlite:///erp.db"])
    assert exc.value.code == 2
    assert "expected CODE=URL" in capsys.readouterr().err
    assert main(["run", "--source-url", "WP=postgresql://reader:S3cretPw@db:notaport/erp",
                 "--warehouse", f"sqlite:///{tmp_path / 'w.db'}"]) == 2
    err = capsys.readouterr().err
    assert "--source-url WP" in err and "S3cret" not in err


def test_force_choices_are_the_configured_forces(capsys):
    from alliance_finance.cli import build_parser
    from alliance_finance.config.forces import force_codes

    run = build_parser()._subparsers._group_actions[0].choices["run"]
    force = next(a for a in run._actions if a.dest == "force")
    assert tuple(force.choices) == force_codes()


def test_as_the_process_s_command_the_garbage_collector_is_frozen_at_exit(monkeypatch, capsys):
    """The console script (argv None) leaves the last collections of a process that is ending to the
    operating system; a caller's function call (argv given, as here in tests) registers nothing."""
    import atexit
    import gc

    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(sys, "argv", ["alliance-finance"])
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    assert main() == 2
    assert registered == [gc.freeze]
    registered.clear()
    assert main([]) == 2
    assert registered == []
