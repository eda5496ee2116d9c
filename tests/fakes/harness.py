"""Start the fake Braket service and a local S3 (moto server) and hand out real SDK objects.

    from fakes import fake_braket, SV1_ARN

    with fake_braket() as fb:
        device = fb.device()                      # a real braket.aws.AwsDevice
        task = device.run(program, shots=0, inputs={"theta": 0.1}, **fb.poll)
        task.result().values
        fb.faults.throttle("CreateQuantumTask", every=3)
        fb.log.count("CreateQuantumTask")

While the context is open the process environment points every AWS client
at 127.0.0.1 (see `_environment`); it is restored on exit. The environment
is process-wide, so one `fake_braket()` at a time.
"""

from __future__ import annotations

import contextlib
import atexit
import dataclasses
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

from .braket_service import ACCOUNT_ID, REGION, SV1_ARN, FakeBraketService, FakeDevice, Faults, ServiceLog

LOOPBACK = "http://127.0.0.1:"

# Variables that would steer botocore or the Braket SDK elsewhere; removed while the fake runs.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AMZN_BRAKET_OUT_S3_BUCKET",
    "AMZN_BRAKET_TASK_RESULTS_S3_URI",
    "AMZN_BRAKET_JOB_TOKEN",
    "AMZN_BRAKET_DEVICE_ARN",
    "AMZN_BRAKET_RESERVATION_DEVICE_ARN",
    "AMZN_BRAKET_RESERVATION_TIME_WINDOW_ARN",
    "ALL_PROXY",
    "all_proxy",
)


@contextlib.contextmanager
def _patched_environ(changes: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _environment(braket_url: str, s3_url: str, dead_proxy: str, max_attempts: int | None, retry_mode: str | None) -> dict[str, str | None]:
    """Everything botocore reads from the environment, pointed at loopback.

    - explicit test credentials, region us-east-1, no config/credentials files,
      no instance metadata;
    - ``AWS_ENDPOINT_URL_BRAKET`` and ``BRAKET_ENDPOINT`` (what
      ``AwsSession.copy_session`` - used by ``run_batch`` - and
      ``AwsQuantumTask(arn)`` without a session read) -> the fake service;
      ``AWS_ENDPOINT_URL_S3`` / ``_STS`` and the catch-all ``AWS_ENDPOINT_URL``
      -> moto;
    - ``HTTP(S)_PROXY`` -> a loopback port where nothing listens, with
      ``NO_PROXY=127.0.0.1,localhost``: a request to any other host is sent
      to that dead proxy and refused, so it cannot leave the machine.
    """
    env: dict[str, str | None] = {k: None for k in _CLEARED}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": s3_url,
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_ENDPOINT_URL_STS": s3_url,
        "AWS_ENDPOINT_URL_BRAKET": braket_url,
        "BRAKET_ENDPOINT": braket_url,
        "HTTP_PROXY": dead_proxy,
        "HTTPS_PROXY": dead_proxy,
        "http_proxy": dead_proxy,
        "https_proxy": dead_proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    if max_attempts is not None:
        env["AWS_MAX_ATTEMPTS"] = str(max_attempts)
    if retry_mode is not None:
        env["AWS_RETRY_MODE"] = retry_mode
    return env


_shared_lock = threading.Lock()
_shared: dict[str, Any] = {}


def _moto_url() -> str:
    """One moto server (S3, STS, ...) on 127.0.0.1 per process, started on first use.

    Its thread is a daemon; an atexit hook stops it. Each `fake_braket()` resets
    moto's state when it ends, so nothing carries over between uses.
    """
    from moto.server import ThreadedMotoServer

    with _shared_lock:
        if "moto" not in _shared:
            werkzeug_log = logging.getLogger("werkzeug")  # moto's server logs every request
            if werkzeug_log.level < logging.WARNING:
                werkzeug_log.setLevel(logging.WARNING)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _shared["moto"] = server
            _shared["moto_url"] = f"http://{host}:{port}"
            atexit.register(server.stop)
        return _shared["moto_url"]


def _reset_moto(url: str) -> None:
    req = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    opener.open(req, timeout=5).close()


def _boto_session(**kwargs: Any):
    """A boto3 Session whose botocore session shares one data loader (service models
    parsed once per process instead of once per session)."""
    import boto3
    import botocore.loaders
    import botocore.session

    with _shared_lock:
        loader = _shared.setdefault("loader", botocore.loaders.create_loader())
    core = botocore.session.Session()
    core.register_component("data_loader", loader)
    return boto3.Session(botocore_session=core, **kwargs)


def _check_loopback(urls: dict[str, str | None]) -> None:
    bad = {k: v for k, v in urls.items() if not (v or "").startswith(LOOPBACK)}
    if bad:
        raise RuntimeError(f"fake_braket: endpoints not on 127.0.0.1: {bad}")


@dataclasses.dataclass
class FakeBraket:
    """What `fake_braket()` yields.

    Attributes:
        service: the `FakeBraketService` (``.url``, ``.devices``,
            ``.set_device_status``, ``.wait_idle``, ``.errors``).
        faults: `Faults` of the service (fault knobs, per test).
        log: `ServiceLog` of the service (calls, tasks, executions).
        session: a real ``braket.aws.AwsSession`` bound to the fakes.
        boto_session, braket_client, s3: the boto3 objects behind it (``s3`` is
            an S3 client on moto, for inspecting or deleting results).
        bucket: the results bucket (exists; the session's default bucket).
        s3_folder: ``AwsSession.S3DestinationFolder(bucket, "tasks")``.
        poll: keyword arguments bounding the SDK's result polling, to pass to
            ``AwsDevice.run`` / ``run_batch`` (``**fb.poll``).
        braket_url, s3_url: the two loopback endpoints.
    """

    service: FakeBraketService
    session: Any
    boto_session: Any
    braket_client: Any
    s3: Any
    bucket: str
    s3_url: str
    poll: dict[str, float]

    @property
    def faults(self) -> Faults:
        return self.service.faults

    @property
    def log(self) -> ServiceLog:
        return self.service.log

    @property
    def braket_url(self) -> str:
        return self.service.url

    @property
    def s3_folder(self):
        from braket.aws import AwsSession

        return AwsSession.S3DestinationFolder(self.bucket, "tasks")

    def device(self, arn: str = SV1_ARN, **kwargs: Any):
        """A real ``braket.aws.AwsDevice`` for `arn`, on this fake's session (calls GetDevice)."""
        from braket.aws import AwsDevice

        return AwsDevice(arn, aws_session=self.session, **kwargs)

    def task(self, arn: str, **kwargs: Any):
        """A real ``braket.aws.AwsQuantumTask`` for an existing task ARN, on this fake's session."""
        from braket.aws import AwsQuantumTask

        return AwsQuantumTask(arn, aws_session=self.session, **(self.poll | kwargs))

    def result_keys(self) -> list[str]:
        """Keys of every object in the results bucket."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@contextlib.contextmanager
def fake_braket(
    *,
    devices: Iterable[FakeDevice] | None = None,
    workers: int = 2,
    bucket: str = f"amazon-braket-{REGION}-{ACCOUNT_ID}",
    max_attempts: int | None = None,
    retry_mode: str | None = None,
    poll_timeout: float = 30.0,
    poll_interval: float = 0.02,
    connect_timeout: float = 2.0,
    read_timeout: float = 20.0,
) -> Iterator[FakeBraket]:
    """Run the fake Braket service and a moto S3 server on 127.0.0.1 for the block.

    Args:
        devices: devices to offer (default: SV1, DM1 and a fake QPU).
        workers: simulator threads in the service.
        bucket: results bucket, created in moto and used as the session's
            default bucket (so no STS call is needed; STS is served by moto anyway).
        max_attempts, retry_mode: botocore retry settings (``total_max_attempts``
            and mode). None keeps botocore's defaults (mode "standard", 3
            attempts). They are set on the Braket client and exported as
            ``AWS_MAX_ATTEMPTS`` / ``AWS_RETRY_MODE``, because the SDK's
            ``copy_session`` (run_batch) builds new clients from the environment.
        poll_timeout, poll_interval: go into ``fb.poll`` for the SDK's polling.
        connect_timeout, read_timeout: for the Braket client (botocore's
            defaults are 60 s).
    """
    from botocore.config import Config
    from braket.aws import AwsSession

    s3_url = _moto_url()
    service = None
    dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        dead_proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
        plain = Config(connect_timeout=connect_timeout, read_timeout=read_timeout, retries={"max_attempts": 2})
        service_s3 = _boto_session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ).client("s3", endpoint_url=s3_url, config=plain)
        _check_loopback({"s3": s3_url, "service s3 client": service_s3.meta.endpoint_url})
        service = FakeBraketService(service_s3, devices=devices, workers=workers).start()
        braket_url = service.url
        env = _environment(braket_url, s3_url, dead_proxy, max_attempts, retry_mode)
        with _patched_environ(env):
            boto_session = _boto_session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            )
            retries: dict[str, Any] = {}
            if max_attempts is not None:
                retries["total_max_attempts"] = max_attempts
            if retry_mode is not None:
                retries["mode"] = retry_mode
            braket_client = boto_session.client(
                "braket",
                endpoint_url=braket_url,
                config=Config(connect_timeout=connect_timeout, read_timeout=read_timeout, retries=retries or None),
            )
            session = AwsSession(boto_session=boto_session, braket_client=braket_client, default_bucket=bucket)
            s3 = boto_session.client("s3")
            _check_loopback(
                {k: v for k, v in env.items() if k.startswith("AWS_ENDPOINT_URL") or k == "BRAKET_ENDPOINT"}
                | {
                    "braket client": session.braket_client.meta.endpoint_url,
                    "session s3 client": session.s3_client.meta.endpoint_url,
                    "session sts client": session.sts_client.meta.endpoint_url,
                    "session s3 resource": boto_session.resource("s3").meta.client.meta.endpoint_url,
                    "s3 client": s3.meta.endpoint_url,
                }
            )
            s3.create_bucket(Bucket=bucket)
            yield FakeBraket(
                service=service,
                session=session,
                boto_session=boto_session,
                braket_client=braket_client,
                s3=s3,
                bucket=bucket,
                s3_url=s3_url,
                poll={"poll_timeout_seconds": poll_timeout, "poll_interval_seconds": poll_interval},
            )
    finally:
        if service is not None:
            service.stop()
        with contextlib.suppress(Exception):
            _reset_moto(s3_url)
        dead.close()
