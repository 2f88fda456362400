"""`socklab run` as a user runs it: versions compared, a timeline drawn, foreign clients judged fairly."""

from __future__ import annotations

import json

import pytest

from socklab.cli.main import ExitCode, main

pytestmark = pytest.mark.lab


def test_run_compares_versions_and_draws_their_timeline(lab_images, tmp_path, capsys):
    picture = tmp_path / "timeline.png"
    code = main(
        [
            "run", "--clients", "3", "--delay", "2", "--json", "--timeline", str(picture),
            "--server-image", lab_images.servers["thread"], "--server-image", lab_images.servers["c-fork"],
            "--client-image", lab_images.client,
        ]
    )  # fmt: skip
    reports = json.loads(capsys.readouterr().out)
    assert code == ExitCode.OK
    assert [r["server_image"] for r in reports] == [lab_images.servers["thread"], lab_images.servers["c-fork"]]
    assert all(r["verdict"]["concurrent"] and len(r["clients"]) == 3 for r in reports)
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_clients_that_print_no_json_are_judged_from_the_server_log(lab_images, capsys):
    # The C client prints only the classic line: the verdict must come from what the server saw.
    code = main(
        ["run", "--clients", "3", "--delay", "2", "--server-image", lab_images.server, "--client-image",
         lab_images.clients["c"]]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    assert "served concurrently: 3/3 answered" in out and "(judged from the server log)" in out


def test_a_missing_image_is_named_with_how_to_get_it(capsys):
    code = main(["run", "--clients", "1", "--server-image", "socklab-test/server:never-built"])
    err = capsys.readouterr().err
    assert code == ExitCode.MISSING_IMAGE
    assert "socklab-test/server:never-built is not on this Docker engine" in err and "socklab images" in err
