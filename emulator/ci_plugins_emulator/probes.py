"""LOCAL CLUSTER EMULATOR: readiness, liveness and startup probes run against the process.

httpGet (2xx/3xx passes), tcpSocket (a connection opens) and exec (the command exits 0)
as a kubelet runs them, with the kubelet's failure messages; ports resolve by name or
number through the pod's loopback port map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

Obj = dict[str, Any]


@dataclass(frozen=True)
class ProbeTarget:
    """What a probe needs of its container: ports (name or number -> loopback port),
    and for exec probes the environment, working directory and path rewriting."""

    ports: Mapping[str, int]
    env: Mapping[str, str]
    cwd: str
    argv_for: Any  # Callable[[Sequence[str]], list[str]]: exec command as the container runs it


def resolve_port(port: Any, ports: Mapping[str, int]) -> int | None:
    return ports.get(str(port))


async def run_probe(probe: Obj, target: ProbeTarget, *, timeout: float) -> tuple[bool, str]:
    """(passed, the kubelet's message when it failed)."""
    if "httpGet" in probe:
        return await _http(probe["httpGet"], target, timeout)
    if "tcpSocket" in probe:
        return await _tcp(probe["tcpSocket"], target, timeout)
    if "exec" in probe:
        return await _exec(probe["exec"].get("command") or [], target, timeout)
    return False, "probe kind not supported here (httpGet, tcpSocket and exec are)"


async def _http(spec: Obj, target: ProbeTarget, timeout: float) -> tuple[bool, str]:
    port = resolve_port(spec.get("port"), target.ports)
    path = str(spec.get("path") or "/")
    if port is None:
        return False, f"port {spec.get('port')!r} not found in the container's ports"
    url = f"http://127.0.0.1:{port}{path if path.startswith('/') else '/' + path}"
    headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/1.30")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, allow_redirects=False) as resp,
        ):
            await resp.read()
            if 200 <= resp.status < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {resp.status}"
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded'
    except aiohttp.ClientError as exc:
        return False, f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: {_reason(exc)}'


async def _tcp(spec: Obj, target: ProbeTarget, timeout: float) -> tuple[bool, str]:
    port = resolve_port(spec.get("port"), target.ports)
    if port is None:
        return False, f"port {spec.get('port')!r} not found in the container's ports"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError) as exc:
        return False, f"dial tcp 127.0.0.1:{port}: connect: {_reason(exc)}"
    writer.close()
    return True, ""


async def _exec(command: Sequence[str], target: ProbeTarget, timeout: float) -> tuple[bool, str]:
    argv = target.argv_for(command)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=target.cwd,
            env=dict(target.env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return False, f"exec failed: {exc}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False, f"command {list(command)!r} timed out"
    if proc.returncode == 0:
        return True, ""
    return False, out.decode("utf-8", "replace").strip()[-300:] or f"exit code {proc.returncode}"


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    return "connection refused" if "refused" in text or "connect call failed" in text else text
