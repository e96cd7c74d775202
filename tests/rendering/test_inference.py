"""The inference objects (rendering/inference.py): the key's checksum reaches every pod."""

from rendering import inference


def _template(annotations: dict) -> dict:
    return {"metadata": {"labels": {}, "annotations": dict(annotations)}, "spec": {}}


def test_the_key_checksum_is_stamped_on_a_deployments_pods():
    spec = {"replicas": 1, "template": _template({"b": "2"})}
    stamped = inference.stamp_pods(spec, {"sum": "abc"})
    assert stamped["template"]["metadata"]["annotations"] == {"sum": "abc", "b": "2"}
    assert spec["template"]["metadata"]["annotations"] == {"b": "2"}


def test_the_key_checksum_is_stamped_on_a_groups_leader_and_workers():
    spec = {"replicas": 1, "leaderWorkerTemplate": {
        "size": 2, "leaderTemplate": _template({}), "workerTemplate": _template({"w": "1"})}}
    group = inference.stamp_pods(spec, {"sum": "abc"})["leaderWorkerTemplate"]
    assert group["size"] == 2
    assert group["leaderTemplate"]["metadata"]["annotations"] == {"sum": "abc"}
    assert group["workerTemplate"]["metadata"]["annotations"] == {"sum": "abc", "w": "1"}


def test_an_operators_key_is_never_read_so_its_checksum_is_its_name():
    key = inference.ApiKey("ops-key", "token", 48)
    assert key.secret is None
    assert inference.external_key_checksum(key) == "external:ops-key"
