"""What a user installing the package by name meets: the distribution name and version, the
license files, ``fastnlp --version``, and commands that read data saying where to get it when
there is no data folder."""

import os
import re
import subprocess
import sys

import pytest

import fastnlp
from fastnlp import _data
from fastnlp.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(fastnlp.__file__)


def test_version_option_prints_the_distribution_and_its_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"fastnlp-kernels {fastnlp.installed_version()}"
    assert re.fullmatch(r"fastnlp-kernels \d+\.\d+\.\d+\S*", out)
    main(["info"])
    assert capsys.readouterr().out.startswith(f"fastnlp-kernels {fastnlp.installed_version()} (import fastnlp")


def test_the_version_is_written_once():
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = f.read()
    if not os.path.exists(os.path.join(ROOT, "python", "fastnlp", "_version.py")):
        pytest.skip("not run from a source checkout")
    assert 'name = "fastnlp-kernels"' in pyproject and 'dynamic = ["version"]' in pyproject
    assert 'input = "python/fastnlp/_version.py"' in pyproject
    assert 'license-files = ["LICENSE"]' in pyproject
    with open(os.path.join(ROOT, "LICENSE")) as f:
        assert f.readline().strip() == "MIT License"


def test_the_package_is_typed():
    assert os.path.isfile(os.path.join(PACKAGE, "py.typed"))


def test_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)               # no ../shared/data beside it
    monkeypatch.delenv("FASTNLP_DATA", raising=False)
    assert _data.default_data_dir() is None
    with pytest.raises(FileNotFoundError, match=r"no data folder: --data-dir not given, \$FASTNLP_DATA not set "
                                                r".*README \(section 'Data and licenses'\)"):
        _data.data_dir()
    (tmp_path / "d" / "corpus").mkdir(parents=True)
    assert _data.data_dir(tmp_path / "d", "corpus") == str(tmp_path / "d")
    with pytest.raises(FileNotFoundError, match=r"tagging is missing from the data folder"):
        _data.data_dir(tmp_path / "d", "tagging")
    monkeypatch.setenv("FASTNLP_DATA", str(tmp_path / "d"))
    assert _data.data_dir() == str(tmp_path / "d")


@pytest.mark.parametrize("argv", [
    ["word2vec", "train", "-o", "v.bin"],
    ["word2vec", "eval", "v.bin"],
    ["classify", "train", "--task", "mr", "--model", "maxent", "-o", "m"],
])
def test_commands_without_a_data_folder_say_where_to_get_it(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FASTNLP_DATA", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "no data folder" in err and "--data-dir DIR or set FASTNLP_DATA=DIR" in err, err
    assert main(argv + ["--data-dir", str(tmp_path / "elsewhere")]) == 1
    err = capsys.readouterr().err
    assert "elsewhere" in err and ("does not exist" in err or "data not found" in err), err


def test_tagger_training_takes_data_dir(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fastnlp.tagging.train", "pos", "--data-dir", str(tmp_path / "none"),
                        "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "none does not exist" in r.stderr, r.stderr
