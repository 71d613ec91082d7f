"""Hostile Hugging Face configs (`catalog import-config FILE`): one line naming the file, bounded,
nothing written.

A config's layer count and sizes (``num_hidden_layers: 1e12``) are the subject of
tests/test_hostile_layers.py; here: the files and their JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hostile import HOSTILE_JSON, assert_ok, assert_refused, run, sparse_file, write
from selfhost.inputs import MAX_DOCUMENT_BYTES

LLAMA = Path(__file__).parent / "fixtures" / "hf_configs" / "meta-llama__Llama-3.1-8B-Instruct.json"
IMPORT = ("catalog", "import-config")
OPTIONS = ("--id", "mine", "--license", "llama3.1", "--quality-tier", "small")


def config(**changes: object) -> str:
    document = json.loads(LLAMA.read_text(encoding="utf-8"))
    document.update(changes)
    return json.dumps(document)


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_a_hostile_config_is_one_line_naming_it(tmp_path: Path, name: str):
    path = write(tmp_path / "config.json", HOSTILE_JSON[name])
    into = tmp_path / "mine.yaml"
    assert_refused(run(*IMPORT, path, *OPTIONS, "--into", into), str(path))
    assert not into.exists()


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "huge", "directory", "not-utf8", "empty"])
def test_a_config_path_that_is_no_config(tmp_path: Path, kind: str):
    path = tmp_path / "config.json"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        sparse_file(path, MAX_DOCUMENT_BYTES + 1)
    elif kind == "directory":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b'{"architectures": ["Llama\xff"]}')
    else:
        write(path, "")
    assert_refused(run(*IMPORT, path, *OPTIONS), str(path))


@pytest.mark.parametrize(
    "changes",
    [
        {"text_config": json.loads("[" * 60 + "]" * 60)},
        {"architectures": "LlamaForCausalLM"},
        {"architectures": [["LlamaForCausalLM"]]},
        {"architectures": []},
        {"hidden_size": "4096"},
        {"hidden_size": True},
        {"hidden_size": 4096.0},
        {"hidden_size": -1},
        {"hidden_size": 10**4000},
        {"num_attention_heads": 0},
        {"rope_scaling": {"factor": 1e308}},
    ],
    ids=[
        "deep-text-config",
        "architectures-a-string",
        "architectures-nested",
        "architectures-empty",
        "size-a-string",
        "size-a-boolean",
        "size-a-float",
        "size-negative",
        "size-of-4000-digits",
        "zero-heads",
        "huge-rope-factor",
    ],
)
def test_a_config_with_hostile_values_is_refused_or_read(tmp_path: Path, changes: dict[str, object]):
    path = write(tmp_path / "config.json", config(**changes))
    ran = run(*IMPORT, path, *OPTIONS)
    if ran.code == 0:  # a value the importer does not read (rope_scaling) is fine
        assert_ok(ran)
    else:
        assert_refused(ran, str(path))


def test_json_constants_nan_and_infinity_are_refused(tmp_path: Path):
    path = write(tmp_path / "config.json", config().replace('"hidden_size": 4096', '"hidden_size": NaN'))
    assert_refused(run(*IMPORT, path, *OPTIONS), "hidden_size")
    path = write(tmp_path / "config.json", config().replace('"hidden_size": 4096', '"hidden_size": Infinity'))
    assert_refused(run(*IMPORT, path, *OPTIONS), "hidden_size")


def test_a_bom_is_fine(tmp_path: Path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + LLAMA.read_bytes())
    assert_ok(run(*IMPORT, path, *OPTIONS))
