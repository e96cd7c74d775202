"""Write the model image's Containerfile and file list for a stack's model revision.

    python -m tools.model_image <stack> --snapshot DIR [--out DIR]

DIR is the revision downloaded as plain files, e.g.
`hf download <repo> --revision <revision> --local-dir DIR`. The tool hashes the files the image
takes (rendering/model_image.py `wanted`), and writes `Containerfile` and `files.sha256` into
--out (default: DIR, the build context). Then, in DIR: `sha256sum -c files.sha256`, build
(`docker build -f Containerfile .` or `podman build`), push, and put the pushed reference with
its digest (`registry/repo@sha256:…`) in storage.image.reference. Nothing is built here and
nothing at preview. Exit status 1 with the reason when the stack's config is invalid or the
snapshot holds no model.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import sys

from planning.config import ConfigError, parse
from planning.plan import make_plan
from planning.stack_files import stack_values
from rendering import model_image

CHUNK_BYTES = 1 << 20
"""Read size while hashing a file (a shard is several GB: never read whole)."""


def snapshot_files(snapshot: pathlib.Path) -> list[model_image.ModelFile]:
    """The snapshot's files the image takes, sorted by path, each with its size and SHA-256."""
    found = []
    for file in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        relative = file.relative_to(snapshot).as_posix()
        if not model_image.wanted(relative):
            continue
        digest = hashlib.sha256()
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
                digest.update(chunk)
        found.append(model_image.ModelFile(relative, file.stat().st_size, digest.hexdigest()))
    return found


def model_subdir(cfg) -> str:
    """Where config.json sits inside the image: storage.image.modelSubdir when the stack uses
    an image, else the image root."""
    image = getattr(cfg.storage, "image", None)
    return image.model_subdir if image is not None else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--snapshot", type=pathlib.Path, required=True,
                        help="the revision's files, as `hf download --local-dir` writes them")
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="where to write Containerfile and files.sha256 (default: --snapshot)")
    args = parser.parse_args(argv)
    try:
        cfg = parse(stack_values(args.stack))
        hf_id = make_plan(cfg).model.hf_id
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    if not args.snapshot.is_dir():
        print(f"--snapshot {args.snapshot}: no such directory; download the revision first: "
              f"hf download {hf_id} --revision {cfg.model.revision} "
              f"--local-dir {args.snapshot}", file=sys.stderr)
        return 1
    files = snapshot_files(args.snapshot)
    try:
        text = model_image.containerfile(files, hf_id, cfg.model.revision,
                                         model_subdir(cfg))
    except ValueError as error:
        print(f"--snapshot {args.snapshot}: {error}", file=sys.stderr)
        return 1
    out = args.out or args.snapshot
    out.mkdir(parents=True, exist_ok=True)
    (out / "Containerfile").write_text(text)
    (out / "files.sha256").write_text(model_image.file_list(files))
    total = sum(f.size for f in files)
    print(f"wrote {out / 'Containerfile'} and {out / 'files.sha256'}: {len(files)} files, "
          f"{total / 2**30:.2f} GiB of {hf_id}@{cfg.model.revision}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
