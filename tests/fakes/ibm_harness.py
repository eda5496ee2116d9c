"""Start the fake IBM Quantum Platform and hand out real qiskit-ibm-runtime objects.

    from fakes import fake_ibm_runtime

    with fake_ibm_runtime(backends={"fake_manila": {"noise": False}}) as fi:
        service = fi.service()                      # a real QiskitRuntimeService
        backend = service.backend("fake_manila")    # a real qiskit_ibm_runtime.IBMBackend
        job = SamplerV2(mode=backend).run([(isa, values, 100)])
        job.result()
        fi.faults.slow_jobs(2.0, nth={1})
        fi.log.count("CreateJob")

While the context is open the process environment routes every plain-http request
to a non-loopback host through the fake (``HTTP_PROXY``), sends https tunnels there
too (refused and recorded), and sets ``IAM_URL``; see `_environment`. It is restored
on exit. A child process started with ``os.environ`` inherits all of it, so
``QiskitRuntimeService(**fi.account)`` there reaches the same server. The
environment is process-wide: one `fake_ibm_runtime()` at a time (and not inside a
`fake_braket()`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

from .harness import _patched_environ
from .ibm_service import API_KEY, INSTANCE_CRN, FakeIBMRuntimeService, Faults, ServiceLog

# Variables that would steer the SDK, ibm-cloud-sdk-core or requests elsewhere; removed while the fake runs.
_CLEARED = (
    "ALL_PROXY",
    "all_proxy",
    "QISKIT_IBM_TOKEN",
    "QISKIT_IBM_URL",
    "QISKIT_IBM_INSTANCE",
    "QISKIT_IBM_CHANNEL",
    "QISKIT_FUNCTIONS_EXPERIMENTAL",  # would skip Global Search
    "QISKIT_FUNCTIONS_IDENTIFIER",
    "VCAP_SERVICES",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
_CLEARED_PREFIXES = ("GLOBAL_SEARCH_", "GLOBAL_CATALOG_", "IAM_")  # ibm-cloud-sdk-core's external config


def _environment(proxy: str, domain: str) -> dict[str, str | None]:
    """Everything the SDK stack reads from the environment, pointed at the fake.

    - ``HTTP_PROXY`` / ``HTTPS_PROXY`` (both cases) -> the fake, with
      ``NO_PROXY=127.0.0.1,localhost``: plain-http requests to the virtual hosts
      under `domain` arrive there as proxy requests; a request to any other host
      arrives there too and is refused and recorded in ``errors``; https requests
      become CONNECT tunnels, likewise refused and recorded. Nothing leaves 127.0.0.1.
    - ``IAM_URL`` -> ``http://iam.{domain}`` (``CloudAuth`` and the Global Search
      authenticator read it; without it CloudAuth would use https://iam.cloud.ibm.com).
    - ``IBM_CREDENTIALS_FILE`` -> ``os.devnull`` and the ``GLOBAL_SEARCH_*`` /
      ``GLOBAL_CATALOG_*`` / ``IAM_*`` variables removed, so no ibm-credentials.env
      or environment overrides the service URLs.
    """
    env: dict[str, str | None] = {k: None for k in _CLEARED}
    env |= {k: None for k in os.environ if k.startswith(_CLEARED_PREFIXES)}
    env |= {
        "IAM_URL": f"http://iam.{domain}",
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "IBM_CREDENTIALS_FILE": os.devnull,
    }
    return env


def _check_routing(server: FakeIBMRuntimeService, account: dict[str, str]) -> None:
    """Fail loudly unless every URL the SDK derives from `account` goes to the fake through the proxy.

    The URLs come from the SDK's own helpers (runtime base URL resolver, Global
    Search and Global Catalog URL builders), so no request is needed to check.
    """
    from urllib.parse import urlsplit

    import requests.utils
    from qiskit_ibm_runtime.accounts.utils import get_global_catalog_api_url, get_global_search_api_url
    from qiskit_ibm_runtime.api.client_parameters import ClientParameters

    params = ClientParameters(channel=account["channel"], token=account["token"], url=account["url"],
                              instance=account["instance"])
    urls = [params.get_runtime_api_base_url(), os.environ["IAM_URL"], get_global_search_api_url(account["url"]),
            get_global_catalog_api_url(account["url"])]
    for url in urls:
        host = urlsplit(url).hostname or ""
        if server._service_of(host) is None:
            raise RuntimeError(f"fake_ibm_runtime: the SDK would address {url}, which the fake does not serve")
        if requests.utils.get_environ_proxies(url).get("http") != server.url:
            raise RuntimeError(f"fake_ibm_runtime: {url} would not go through the fake's proxy {server.url}")


@dataclasses.dataclass
class FakeIBMRuntime:
    """What `fake_ibm_runtime()` yields.

    Attributes:
        server: the `FakeIBMRuntimeService` (``.url``, ``.backends``, ``.wait_idle``,
            ``.set_backend_status``, ``.errors``).
        account: keyword arguments for ``QiskitRuntimeService`` (channel, token,
            instance, url), JSON-serialisable for a child process.
        environ: the environment variables set (None = removed) while open.
        faults, log: the server's `Faults` and `ServiceLog`.
    """

    server: FakeIBMRuntimeService
    account: dict[str, str]
    environ: dict[str, str | None]

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def log(self) -> ServiceLog:
        return self.server.log

    def service(self, **overrides: Any):
        """A new real ``QiskitRuntimeService`` bound to the fake (IAM, Global Search,
        Global Catalog and ListBackends calls)."""
        from qiskit_ibm_runtime import QiskitRuntimeService

        return QiskitRuntimeService(**(self.account | overrides))


@contextlib.contextmanager
def fake_ibm_runtime(backends=None, *, noise: bool = True, workers: int = 2) -> Iterator[FakeIBMRuntime]:
    """Run the fake IBM Quantum Platform on 127.0.0.1 for the block.

    Args:
        backends: backends to serve: None (``fake_manila``, ``fake_brisbane``), names,
            ``{name: {"noise": False, ...}}`` (`ServedBackend` fields), or `ServedBackend`s.
        noise: `ServedBackend.noise` for backends given without it (True: the fake
            backend's calibrated noise; False: Aer's ideal simulator on the same target).
        workers: job-executing threads.
    """
    server = FakeIBMRuntimeService(backends, noise=noise, workers=workers).start()
    try:
        env = _environment(server.url, server.domain)
        account = {"channel": "ibm_quantum_platform", "token": API_KEY, "instance": INSTANCE_CRN,
                   "url": server.cloud_url}
        with _patched_environ(env):
            fi = FakeIBMRuntime(server=server, account=account, environ=env)
            _check_routing(server, account)
            yield fi
    finally:
        server.stop()
