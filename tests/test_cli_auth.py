"""``flask workers set-pin`` and ``flask tokens create / list / revoke`` (SPEC §11)."""

from __future__ import annotations

import pytest


def signs_in(app, worker_id: int, pin: str) -> bool:
    """Whether the worker's sign-in with ``pin`` opens a session."""
    answer = app.test_client(signed=False).post("/api/sesiones", json={"worker_id": worker_id, "pin": pin})
    return answer.status_code == 201


def test_set_pin_asks_twice_and_never_echoes_it(app, runner):
    result = runner.invoke(args=["workers", "set-pin", "2"], input="2468\n1357\n2468\n2468\n")

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output  # the first pair differed: asked again
    assert "PIN set for worker 2 (Pedro González)" in result.output
    assert "2468" not in result.output and "1357" not in result.output
    assert signs_in(app, 2, "2468") and not signs_in(app, 2, "1357")


def test_set_pin_reads_one_line_from_stdin_for_scripts(app, runner):
    result = runner.invoke(args=["workers", "set-pin", "5", "--pin-stdin"], input="97531\nignored\n")
    assert result.exit_code == 0, result.output
    assert signs_in(app, 5, "97531")


@pytest.mark.parametrize(
    ("worker", "pin", "message"),
    [("2", "12a4", "a PIN is 4 to 8 digits"), ("2", "123", "a PIN is 4 to 8 digits"), ("999", "1234", "no existe")],
)
def test_set_pin_refuses_a_bad_pin_or_an_unknown_worker_and_changes_nothing(app, runner, worker, pin, message):
    result = runner.invoke(args=["workers", "set-pin", worker, "--pin-stdin"], input=pin + "\n")
    assert result.exit_code == 1
    assert message in result.output and pin not in result.output
    assert not app.extensions["zeues"].store.workers()[2].tiene_pin


def test_tokens_are_created_listed_and_revoked(app, runner):
    created = runner.invoke(args=["tokens", "create", "erp", "--scope", "read,command"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("zeues_") and "not shown again" in created.stderr

    listed = runner.invoke(args=["tokens", "list"])
    assert listed.output.splitlines()[0].split() == ["NAME", "SCOPES", "CREATED", "LAST", "USED"]
    assert listed.output.splitlines()[1].split()[:2] == ["erp", "read,command"]
    assert secret not in listed.output

    assert app.test_client(signed=False).get("/api/spools", headers={"Authorization": f"Bearer {secret}"}).status_code
    assert runner.invoke(args=["tokens", "revoke", "erp"]).exit_code == 0
    assert runner.invoke(args=["tokens", "list"]).output.strip() == "No API tokens."


@pytest.mark.parametrize(
    "scopes",
    [["--scope", "read", "command"], ["--scope", "read", "--scope", "command"], ["--scope", "command,read"]],
    ids=["after-one-option", "repeated", "comma-separated"],
)
def test_scopes_are_written_as_an_operator_would(runner, scopes):
    assert runner.invoke(args=["tokens", "create", "erp", *scopes]).exit_code == 0
    assert runner.invoke(args=["tokens", "list"]).output.splitlines()[1].split()[:2] == ["erp", "read,command"]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["tokens", "create", "erp", "--scope", "admin"], 2, "choose from read, command, supervise"),
        (["tokens", "create", "erp"], 2, "Missing option '--scope'"),
        (["tokens", "create", "no spaces", "--scope", "read"], 1, "a token name is"),
        (["tokens", "revoke", "nadie"], 1, "no token named 'nadie'"),
    ],
)
def test_tokens_refuse_bad_scopes_names_and_unknown_tokens(runner, args, exit_code, message):
    result = runner.invoke(args=args)
    assert result.exit_code == exit_code
    assert message in result.output
