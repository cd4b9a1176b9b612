"""Option checks of `mage-studio worker`, which end before any connection."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from mage_studio.render.cli import EXIT_USAGE, register

TOKEN = "mwt_test-token"


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("version")(lambda: None)  # a second command keeps `worker` named
    return app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "ftp://example"], "Invalid --api URL"),
        (["--backend", "automatic1111"], "needs the WebUI URL"),
        (["--backend", "diffusion"], "unknown render backend"),
        (["--generators", "vid2vid,morph"], "generators"),
        (["--name", "gpu 01"], "worker_name"),
        (["--queues", "low,not a queue"], "queues"),
        (["--token", "mwt_a b"], "Invalid worker token"),
    ],
)
def test_worker_rejects_invalid_options(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.delenv("MAGE_RENDER_BACKEND", raising=False)
    token = [] if "--token" in args else ["--token", TOKEN]

    result = CliRunner().invoke(cli, ["worker", *token, *args])

    assert result.exit_code == EXIT_USAGE
    assert message in result.output


def test_worker_needs_token(cli: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAGE_WORKER_TOKEN", raising=False)

    result = CliRunner().invoke(cli, ["worker"])

    assert result.exit_code == EXIT_USAGE
    assert "MAGE_WORKER_TOKEN" in result.output
