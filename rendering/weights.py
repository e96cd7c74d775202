"""What the weights on an operator-managed export (storage.mode nfs) say about themselves.

On NFS the program never writes the weights: `model.revision` labels what the operator put on the
export. Where the weights carry a marker of their commit, a pod checks it before vLLM loads them.
"""

from __future__ import annotations


REVISION_METADATA = ".cache/huggingface/download/config.json.metadata"
"""What `hf download --local-dir` leaves beside each file: first line, the commit it came from
(huggingface_hub `_local_folder.py`, `get_local_download_paths` / `read_download_metadata`)."""


def revision_check_script(model_dir: str, revision: str) -> str:
    """sh run before vLLM on an operator-managed export (nfs): stop the pod when the weights'
    own marker names another commit than model.revision. Markers: the download metadata of
    `hf download --local-dir`, else a hub-cache snapshot directory named after its commit.
    Weights with neither (an rsync of plain files) start, said to be unverified: the pin then
    only labels them."""
    return (
        f"dir='{model_dir}'; want='{revision}'; meta=\"$dir/{REVISION_METADATA}\"\n"
        'if [ -f "$meta" ]; then got=$(head -n 1 "$meta"); how="$meta"\n'
        'else got=$(basename "$dir"); how="the snapshot directory name"\n'
        '  case "$got" in *[!0-9a-f]*) got="";; esac\n'
        '  [ "${#got}" -eq 40 ] || got=""\n'
        "fi\n"
        'if [ -z "$got" ]; then echo "weights at $dir carry no revision marker: model.revision'
        ' $want is unverified"; exit 0; fi\n'
        'if [ "$got" != "$want" ]; then echo "weights at $dir are commit $got ($how), but'
        ' model.revision is $want: put that commit on the export or set model.revision"; exit 1;'
        " fi\n"
        'echo "weights at $dir are commit $got, as model.revision says"\n'
    )
