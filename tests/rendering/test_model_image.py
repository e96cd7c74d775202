"""The model image's Containerfile and file list (rendering/model_image.py): FROM scratch, the
revision's model files only, each at /<modelSubdir>/<path>, weight shards over a bounded
number of layers."""

from __future__ import annotations

import json
import re

import pytest

from rendering import model_image
from rendering.model_image import ModelFile, WEIGHT_LAYERS, containerfile, file_list, wanted


def _files(*paths: str) -> list[ModelFile]:
    return [ModelFile(p, 1, f"{i:064x}") for i, p in enumerate(paths)]


def _copies(text: str) -> list[list[str]]:
    return [json.loads(line.split(" ", 2)[2]) for line in text.splitlines()
            if line.startswith("COPY ")]


@pytest.mark.parametrize("path,taken", [
    ("config.json", True), ("model-00001-of-00002.safetensors", True),
    ("tokenizer.model", True), ("tokenizer_config.json", True), ("chat_template.jinja", True),
    ("pytorch_model.bin", False), ("original/consolidated.00.pth", False),
    (".cache/huggingface/download/config.json.metadata", False),
    (".download-complete", False), ("README.md", False),
], ids=lambda v: str(v))
def test_the_image_takes_the_files_the_download_job_takes(path, taken):
    assert wanted(path) is taken


def test_the_image_is_from_scratch_and_names_its_repository_and_revision():
    text = containerfile(_files("config.json", "model.safetensors"), "org/m", "abc123", "")
    instructions = [line.split()[0] for line in text.splitlines()
                    if line and not line.startswith(("#", " "))]
    assert instructions[:2] == ["FROM", "LABEL"] and "FROM scratch" in text
    assert 'org.opencontainers.image.revision="abc123"' in text
    assert set(instructions[2:]) == {"COPY"}


def test_every_file_lands_under_the_model_subdirectory():
    text = containerfile(_files("config.json", "sub/extra.json", "model.safetensors"),
                         "org/m", "main", "/weights/")
    destinations = {tuple(c[:-1]): c[-1] for c in _copies(text)}
    assert destinations == {("config.json",): "/weights/", ("sub/extra.json",): "/weights/sub/",
                            ("model.safetensors",): "/weights/"}


def test_weight_shards_spread_over_at_most_the_layer_bound():
    shards = [f"model-{i:05d}-of-00163.safetensors" for i in range(1, 164)]  # R1's count
    copies = _copies(containerfile(_files("config.json", *shards), "org/m", "main", ""))
    weight_copies = [c for c in copies if c[0].endswith(".safetensors")]
    assert len(weight_copies) <= WEIGHT_LAYERS
    assert sorted(p for c in weight_copies for p in c[:-1]) == shards


def test_a_snapshot_without_model_files_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="--snapshot"):
        containerfile([], "org/m", "main", "")


def test_the_file_list_is_in_sha256sum_format():
    files = _files("config.json", "model.safetensors")
    assert re.fullmatch(r"([0-9a-f]{64}  \S+\n)+", file_list(files))
    assert file_list(files).splitlines()[1].endswith("  model.safetensors")


def test_files_are_copied_read_only_for_any_user():
    text = containerfile(_files("config.json"), "org/m", "main", "")
    assert all("--chmod=0444" in line for line in text.splitlines() if line.startswith("COPY"))
    assert model_image.SKIPPED_DIRS
