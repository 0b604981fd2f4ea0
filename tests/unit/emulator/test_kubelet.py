"""The kubelet runs pods as real processes: status, probes, restarts and logs from them."""

from __future__ import annotations

from tests.support.node import WEB_IMAGE, Node, pod, web_container


def _ready(node: Node, name: str) -> bool:
    conditions = (node.pod(name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _phase(node: Node, name: str) -> str:
    return str((node.pod(name).get("status") or {}).get("phase", ""))


def _waiting(node: Node, pod_name: str, container: str, *, init: bool = False) -> str:
    state = node.container(pod_name, container, init=init).get("state") or {}
    return str((state.get("waiting") or {}).get("reason", ""))


def test_a_pod_of_a_run_image_runs_its_command_and_becomes_ready(node: Node) -> None:
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 1}
    node.create(pod("web", web_container(readinessProbe=probe)))
    node.wait_for("web ready", lambda: _ready(node, "web"))
    status = node.pod("web")["status"]
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["state"]["running"]["startedAt"]
    code, text = node.log("web")
    assert code == 200
    assert "listening on 127.0.0.1:" in text  # the real output, with the mapped port
    assert '"GET /healthz HTTP/1.1" 200' in text  # the probe really reached the process


def test_an_unknown_image_fails_to_pull_then_backs_off_naming_the_image(node: Node) -> None:
    container = {**web_container(), "image": "tensorflow/servng:2.14.1"}
    node.create(pod("typo", container))
    reason = node.wait_for("ErrImagePull", lambda: _waiting(node, "typo", "web"))
    assert reason == "ErrImagePull"
    node.wait_for("ImagePullBackOff", lambda: _waiting(node, "typo", "web") == "ImagePullBackOff")
    waiting = node.container("typo", "web")["state"]["waiting"]
    assert waiting["message"].startswith(
        'Back-off pulling image "tensorflow/servng:2.14.1": ErrImagePull: Failed to pull image'
    )
    assert node.pod("typo")["status"]["phase"] == "Pending"
    assert any("tensorflow/servng:2.14.1" in e and "not found" in e for e in node.events("typo"))


def test_a_crashing_container_crash_loops_with_its_real_exit_code_and_logs(node: Node) -> None:
    crash = web_container(command=["python", "-c", "print('model failed to load'); exit(3)"])
    node.create(pod("crash", {**crash, "args": []}))
    node.wait_for("CrashLoopBackOff", lambda: _waiting(node, "crash", "web") == "CrashLoopBackOff")
    node.wait_for("a restart", lambda: node.container("crash", "web")["restartCount"] >= 1)
    status = node.container("crash", "web")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["lastState"]["terminated"]["reason"] == "Error"
    code, text = node.log("crash", "web", previous=True)
    assert (code, text) == (200, "model failed to load\n")


def test_init_and_main_containers_share_an_empty_dir(node: Node) -> None:
    write = {
        "name": "fetch",
        "image": WEB_IMAGE,
        "command": [
            "python",
            "-c",
            "open('/data/model.txt', 'w').write('weights')",
        ],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    main = web_container(volumeMounts=[{"name": "data", "mountPath": "/data"}])
    main["args"] = ["8080", "/data"]
    node.create(
        {
            **pod("shared", main, init=(write,)),
            "spec": {
                "initContainers": [write],
                "containers": [main],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        }
    )
    node.create(_service("shared"))
    node.wait_for("shared ready", lambda: _ready(node, "shared"))
    init = node.container("shared", "fetch", init=True)
    assert init["state"]["terminated"]["reason"] == "Completed"
    # ready without a readiness probe: the server may still be starting, as on a real node
    answer = node.wait_for(
        "the proxied answer", lambda: (a := node.proxy("shared", "files/model.txt"))[0] == 200 and a
    )
    assert answer == (200, "weights")


def test_a_crashing_init_container_keeps_the_pod_pending_in_back_off(node: Node) -> None:
    fail = {"name": "fetch", "image": WEB_IMAGE, "command": ["python", "-c", "exit(7)"]}
    node.create(pod("initfail", web_container(), init=(fail,)))
    node.wait_for(
        "init back-off",
        lambda: _waiting(node, "initfail", "fetch", init=True) == "CrashLoopBackOff",
    )
    status = node.pod("initfail")["status"]
    assert status["phase"] == "Pending"
    assert status["initContainerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 7
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"


def test_a_readiness_probe_path_that_404s_keeps_the_pod_unready(node: Node) -> None:
    probe = {"httpGet": {"path": "/v1/models/nope", "port": "http"}, "periodSeconds": 1}
    node.create(pod("noprobe", web_container(readinessProbe=probe)))
    node.wait_for(
        "Unhealthy event",
        lambda: any("statuscode: 404" in e for e in node.events("noprobe")),
    )
    assert node.pod("noprobe")["status"]["phase"] == "Running"
    assert not _ready(node, "noprobe")
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in node.events(
        "noprobe"
    )[-1] or any("Readiness probe failed" in e for e in node.events("noprobe"))


def test_a_failing_liveness_probe_restarts_the_container(node: Node) -> None:
    probe = {"httpGet": {"path": "/missing", "port": "http"}, "failureThreshold": 2}
    node.create(pod("live", web_container(livenessProbe=probe)))
    node.wait_for("a restart", lambda: node.container("live", "web").get("restartCount", 0) >= 1)
    assert any("failed liveness probe, will be restarted" in e for e in node.events("live"))


def test_two_containers_binding_one_port_clash_for_real(node: Node) -> None:
    node.create(pod("clash", web_container("a"), web_container("b")))
    node.wait_for(
        "one container crash-looping",
        lambda: "CrashLoopBackOff" in (_waiting(node, "clash", "a"), _waiting(node, "clash", "b")),
    )
    loser = "a" if _waiting(node, "clash", "a") == "CrashLoopBackOff" else "b"
    _, text = node.log("clash", loser, previous=True)
    assert "Address already in use" in text


def test_logs_of_a_pod_with_two_containers_need_a_container_name(node: Node) -> None:
    node.create(pod("two", web_container("a", port=8080), web_container("b", port=8081)))
    node.wait_for("running", lambda: _phase(node, "two") == "Running")
    code, body = node.log("two")
    assert code == 400
    assert body["message"] == "a container name must be specified for pod two, choose one of: [a b]"


def test_a_deleted_pod_stops_its_process(node: Node) -> None:
    node.create(pod("gone", web_container()))
    node.wait_for("running", lambda: _phase(node, "gone") == "Running")
    worker = node.simulator.kubelet.worker("ml-dev", "gone")
    assert worker is not None
    port = worker.host_port(8080)
    node.delete(pod("gone"))
    node.wait_for("worker gone", lambda: node.simulator.kubelet.worker("ml-dev", "gone") is None)
    import socket

    def closed() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port or 0)) != 0

    node.wait_for("port closed", closed)


def _service(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ml-dev"},
        "spec": {
            "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }
