"""Wires the local runtime together: moto, the stack, function workers, the WebSocket
gateway, the HTTP server, SQS pollers and the reference webhook receiver."""

from __future__ import annotations

import asyncio
import base64
import faulthandler
import importlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from roomcast_local import moto_patch
from roomcast_local import template as tpl
from roomcast_local.cfn import load_template
from roomcast_local.httpserver import API_PREFIX, LocalHttpServer
from roomcast_local.sqs import SqsPoller
from roomcast_local.stack import Stack, provision
from roomcast_local.streams import StreamPoller
from roomcast_local.workers import FunctionPool, Functions, worker_environment
from roomcast_local.wsgateway import WebSocketGateway

READY_PREFIX = "roomcast local ready"
# SIGINT/SIGTERM to exit, under any load (docs/local-runtime.md "Stopping"): sockets and
# their $disconnect get the first STOP_DISCONNECT_S, the workers are gone by
# STOP_WORKERS_S, and a watchdog ends the process at STOP_BUDGET_S whatever still runs.
STOP_BUDGET_S = 4.6  # under the 5 s promised: the interpreter still has to exit after it
STOP_DISCONNECT_S = 2.5
STOP_WORKERS_S = 3.3
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_RECEIVER_MODULES = ("examples.receiver", "examples.receiver.receiver", "examples.receiver.app", "examples.receiver.server")


@dataclass
class Options:
    template: Path
    host: str = "127.0.0.1"
    http_port: int = 3000
    ws_port: int = 3001
    moto_port: int = 0
    receiver_port: int = 0
    receiver: bool = True
    receiver_db: Path | None = None
    region: str = "us-east-1"
    stack_name: str = "roomcast-local"
    idle_timeout: float = 600.0
    max_lifetime: float = 7200.0
    max_concurrency: int = 4
    admin_key: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    function_logs: bool = True
    ready_file: Path | None = None


class Log:
    """One writer for every line the runtime prints (threads and worker processes)."""

    def __init__(self, function_logs: bool) -> None:
        self.function_logs = function_logs
        self._lock = threading.Lock()

    def _write(self, line: str) -> None:
        with self._lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def runtime(self, message: str) -> None:
        self._write(f"{time.strftime('%H:%M:%S')} [roomcast-local] {message}")

    def function(self, label: str, line: str) -> None:
        if self.function_logs or line.startswith(("cold start", "Task timed out", "Traceback")):
            self._write(f"{time.strftime('%H:%M:%S')} [{label}] {line}")


class _EndpointSession:
    """A boto3 session whose clients all talk to the embedded moto server."""

    def __init__(self, endpoint_url: str, region: str) -> None:
        self.endpoint_url = endpoint_url
        # moto accepts any credentials; these fake ones never reach AWS.
        self._session = boto3.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        return self._session.client(service, **kwargs)  # type: ignore[call-overload]


def _serialized_moto_server(host: str, port: int) -> Any:
    """moto's ThreadedMotoServer with DynamoDB requests run one at a time.

    moto's server handles requests on threads, but its DynamoDB backend is not
    thread-safe: TransactWriteItems deep-copies the table while another request may be
    changing it ("dictionary changed size during iteration" -> a 500 the real service
    never gives). One lock around DynamoDB calls costs little (the GIL serialises the
    work anyway) and leaves SQS long polls free to wait concurrently.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class SerializedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serialized(environ: dict[str, Any], start_response: Any) -> Any:
                if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
                    with lock:
                        return list(app(environ, start_response))
                return app(environ, start_response)

            self._server = make_server(self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerializedMotoServer(ip_address=host, port=port, verbose=False)


def _find_receiver() -> Any | None:
    for name in _RECEIVER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        start = getattr(module, "start_receiver", None)
        if callable(start):
            return start
    return None


def _webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _schedule_parameters(template: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """`--env WEBHOOK_SCHEDULE=...` also sets the jobs queue's maxReceiveCount to the
    receives that schedule plans, as the delivery function checks (docs/webhooks.md)."""
    declared = template.get("Parameters") or {}
    if "WEBHOOK_SCHEDULE" not in env or "WebhookSchedule" not in declared:
        return {}
    from roomcast.webhooks.schedule import max_receive_count, parse_schedule

    value = env["WEBHOOK_SCHEDULE"]
    parameters: dict[str, Any] = {"WebhookSchedule": value}
    if "WebhookMaxReceiveCount" in declared:
        parameters["WebhookMaxReceiveCount"] = max_receive_count(parse_schedule(value))
    return parameters


class Runtime:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.log = Log(options.function_logs)
        self.template_path = options.template.resolve()
        self.root = self.template_path.parent
        self.template = load_template(self.template_path)
        self.executor = ThreadPoolExecutor(max_workers=96, thread_name_prefix="invoke")
        self.moto: Any = None
        self.moto_url = ""
        self.receiver: Any = None
        self.receiver_url: str | None = None
        self.webhook_secret: str | None = None
        self.stack: Stack | None = None
        self.functions: Functions | None = None
        self.gateway: WebSocketGateway | None = None
        self.http: LocalHttpServer | None = None
        self.pollers: list[SqsPoller | StreamPoller] = []
        self.admin_key = ""
        self.stage = "prod"

    # ------------------------------------------------------------------ start
    def _start_moto(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        from roomcast_local.moto_sqs_visibility import install as sqs_visibility_as_in_aws

        sqs_visibility_as_in_aws()
        # Before any table exists: DynamoDB at the cost of the items a call touches.
        if moto_patch.apply():
            self.log.runtime(f"moto {moto_patch.moto_version()}: DynamoDB corrected by roomcast_local.moto_patch")
        else:
            self.log.runtime(f"moto {moto_patch.moto_version()}: roomcast_local.moto_patch NOT applied (slow, grows)")
        self.moto = _serialized_moto_server(self.options.host, self.options.moto_port)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self.log.runtime(f"moto server at {self.moto_url}")

    def _start_receiver(self) -> None:
        resources = self.template.get("Resources") or {}
        parameters = self.template.get("Parameters") or {}
        if not self.options.receiver:
            return
        start = _find_receiver()
        if start is None:
            self.log.runtime("reference webhook receiver (examples.receiver) not found: not started")
            return
        # The template's DefaultWebhookSecret is given this value, so the receiver verifies.
        self.webhook_secret = _webhook_secret()
        db_path = self.options.receiver_db or Path(tempfile.mkdtemp(prefix="roomcast-receiver-")) / "receiver.db"
        self.receiver = start(
            self.options.host,
            self.options.receiver_port,
            [self.webhook_secret],
            str(db_path),
        )
        base = str(self.receiver.url).rstrip("/")
        self.receiver_url = base if base.endswith("/webhooks") else base + "/webhooks"
        self.log.runtime(f"webhook receiver at {self.receiver_url} (db {db_path})")
        if "DefaultWebhookUrl" not in parameters or "DefaultWebhookSecret" not in resources:
            self.log.runtime("template has no DefaultWebhookUrl/DefaultWebhookSecret: the receiver is not the default endpoint")

    def _provision(self) -> None:
        resources = self.template.get("Resources") or {}
        parameters: dict[str, Any] = {}
        secret_values: dict[str, str] = {}
        if self.receiver_url and "DefaultWebhookUrl" in (self.template.get("Parameters") or {}):
            parameters["DefaultWebhookUrl"] = self.receiver_url
        if self.webhook_secret and "DefaultWebhookSecret" in resources:
            secret_values["DefaultWebhookSecret"] = self.webhook_secret
        if "AdminApiKeySecret" in resources:
            secret_values["AdminApiKeySecret"] = self.options.admin_key or secrets.token_urlsafe(24)
        parameters.update(_schedule_parameters(self.template, self.options.env))
        session = _EndpointSession(self.moto_url, self.options.region)
        self.stack = provision(
            self.template,
            session,
            region=self.options.region,
            stack_name=self.options.stack_name,
            parameters=parameters,
            secret_values=secret_values,
        )
        self.admin_key = secret_values.get("AdminApiKeySecret", "")
        self.log.runtime(
            f"provisioned {len(self.stack.tables)} table(s), {len(self.stack.queues)} queue(s), "
            f"{len(self.stack.secrets)} secret(s)"
        )

    def _ws_api(self) -> tuple[tpl.WsApi | None, str]:
        apis = tpl.websocket_apis(self.template)
        if not apis:
            return None, "prod"
        if len(apis) > 1:
            self.log.runtime(f"{len(apis)} WebSocket APIs in the template: serving {apis[0].logical_id} only")
        assert self.stack is not None
        stage_raw = tpl.websocket_stage(self.template, apis[0].logical_id)
        stage = str(self.stack.resolver.resolve(stage_raw)) if stage_raw is not None else "prod"
        return apis[0], stage

    def _start_functions(self, http_url: str) -> None:
        assert self.stack is not None
        specs = tpl.functions(self.template, self.root)
        extra = {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto_url,
            # Where roomcast.gateway (through botocore) finds @connections.
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{http_url}/{self.stage}",
            # Local only: the reference receiver listens on loopback, which the SSRF
            # guard refuses in the cloud. The template never sets this.
            "WEBHOOK_ALLOW_LOOPBACK": "true",
        }
        pools: dict[str, FunctionPool] = {}
        for logical_id, spec in specs.items():
            env = worker_environment(
                spec,
                self.stack.functions[logical_id],
                self.stack.function_environment(logical_id),
                self.options.region,
                extra,
                {**self.options.env, "ROOMCAST_LOCAL_FUNCTION_ARN": self.stack.resolver.getatt(logical_id, "Arn")},
            )
            pools[logical_id] = FunctionPool(spec, env, self.options.max_concurrency, self.log.function)
        self.functions = Functions(pools)
        for pool in pools.values():
            self.executor.submit(pool.prestart)

    def _start_pollers(self) -> None:
        assert self.stack is not None and self.functions is not None
        sqs = _EndpointSession(self.moto_url, self.options.region).client("sqs", region_name=self.options.region)
        for source in tpl.sqs_sources(self.template):
            if not source.enabled:
                continue
            try:
                queue_arn = str(self.stack.resolver.resolve(source.queue_ref))
            except KeyError as exc:
                self.log.runtime(f"{source.function}.{source.event_name}: queue not available locally ({exc})")
                continue
            queue_url = self.stack.queues.get(source.queue_logical_id or "") or sqs.get_queue_url(
                QueueName=queue_arn.rsplit(":", 1)[-1]
            )["QueueUrl"]
            pool = self.functions.pools[source.function]
            concurrency = min(source.max_concurrency or pool.max_workers, pool.max_workers)
            poller = SqsPoller(
                source,
                queue_url=queue_url,
                queue_arn=queue_arn,
                client=sqs,
                invoke=self.invoke_sync,
                concurrency=concurrency,
                region=self.options.region,
                log=self.log.runtime,
            )
            poller.start()
            self.pollers.append(poller)
            self.log.runtime(
                f"polling {queue_arn.rsplit(':', 1)[-1]} for {source.function} (batch {source.batch_size}, "
                f"window {source.batching_window_s:g}s, partial failures {source.report_batch_item_failures}, "
                f"concurrency {concurrency})"
            )
        self._start_stream_pollers()

    def _start_stream_pollers(self) -> None:
        """Every DynamoDB stream event source of the template, polled as Lambda polls it."""
        assert self.stack is not None
        session = _EndpointSession(self.moto_url, self.options.region)
        streams = session.client("dynamodbstreams", region_name=self.options.region)
        sqs = session.client("sqs", region_name=self.options.region)
        for source in tpl.stream_sources(self.template):
            if not source.enabled:
                continue
            try:
                stream_arn = str(self.stack.resolver.resolve(source.stream_ref))
                window = float(self.stack.resolver.resolve(source.batching_window_s))
                failure_arn = self.stack.resolver.resolve(source.on_failure_ref) if source.on_failure_ref else None
            except KeyError as exc:
                self.log.runtime(f"{source.function}.{source.event_name}: stream not available locally ({exc})")
                continue
            failure_url = None
            if failure_arn:
                failure_url = sqs.get_queue_url(QueueName=str(failure_arn).rsplit(":", 1)[-1])["QueueUrl"]
            poller = StreamPoller(
                source, stream_arn=stream_arn, batching_window_s=window, streams_client=streams, sqs_client=sqs,
                on_failure_url=failure_url, invoke=self.invoke_sync, region=self.options.region, log=self.log.runtime,
            )
            poller.start()
            self.pollers.append(poller)
            self.log.runtime(
                f"reading the stream of {stream_arn.split('/')[1]} for {source.function} (batch {source.batch_size}, "
                f"window {window:g}s, bisect {source.bisect_on_error}, retries {source.max_retry_attempts})"
            )

    def invoke_sync(self, logical_id: str, event: Any) -> Any:
        assert self.functions is not None
        return self.functions.invoke(logical_id, event).result

    async def invoke(self, logical_id: str, event: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.invoke_sync, logical_id, event)

    def config(self) -> dict[str, Any]:
        assert self.http is not None
        return {
            "ws_url": self.gateway.url if self.gateway else None,
            "http_url": self.http.url + "/",
            "admin_api_url": self.http.url + API_PREFIX,
            # A development tool on loopback: the demo page is given the admin key.
            "admin_key": self.admin_key,
            "stage": self.stage,
            "region": self.options.region,
            "receiver_url": self.receiver_url,
            "receiver_base_url": self.receiver_url.removesuffix("/webhooks") if self.receiver_url else None,
            "moto_url": self.moto_url,
        }

    async def start(self) -> None:
        self._start_moto()
        self._start_receiver()
        self._provision()
        api, self.stage = self._ws_api()
        assert self.stack is not None
        routes = tpl.http_routes(self.template)
        for route in routes:
            if route.authorizer is not None:  # ReauthorizeEvery may be a !Ref to a parameter
                route.authorizer.cache_seconds = int(self.stack.resolver.resolve(route.authorizer.cache_seconds))
        self.http = LocalHttpServer(
            host=self.options.host,
            port=self.options.http_port,
            routes=routes,
            invoke=self.invoke_sync,
            gateway=None,
            stage=self.stage,
            static_root=self.root / "client",
            config=self.config,
            log=self.log.runtime,
        )
        self._start_functions(self.http.url)
        if api is not None:
            self.gateway = WebSocketGateway(
                api,
                self.invoke,
                host=self.options.host,
                port=self.options.ws_port,
                stage=self.stage,
                api_id=str(self.stack.resolver.ref(api.logical_id)),
                idle_timeout=self.options.idle_timeout,
                max_lifetime=self.options.max_lifetime,
                log=self.log.runtime,
            )
            await self.gateway.start()
            self.http.gateway = self.gateway
        self.http.start()
        self._start_pollers()

    def ready_line(self) -> str:
        config = self.config()
        admin = config["admin_api_url"]
        if any(r.path == "/tokens" and r.method in ("POST", "ANY") for r in tpl.http_routes(self.template)):
            how_to_token = (
                f"curl -s -X POST {admin}/tokens -H 'X-Api-Key: {self.admin_key}' "
                "-H 'Content-Type: application/json' -d '{\"user_id\":\"alice\",\"name\":\"Alice\"}'"
            )
        else:
            how_to_token = "this template has no POST /tokens route"  # noqa: S105 - a message
        parts = [
            f"demo={config['http_url']}",
            f"ws={config['ws_url']}",
            f"admin_api={admin}",
            f"admin_key={self.admin_key}",
        ]
        if self.receiver_url:
            parts.append(f"receiver={self.receiver_url}")
        return f"{READY_PREFIX}: {' '.join(parts)} | token: {how_to_token}"

    # ------------------------------------------------------------------ stop
    def _stop_pollers(self, deadline: float) -> None:
        for poller in self.pollers:
            poller.stop(timeout=max(0.0, deadline - time.monotonic()))

    async def stop(self, started: float | None = None) -> None:
        """Everything stopped within STOP_BUDGET_S of `started` (time.monotonic())."""
        started = time.monotonic() if started is None else started
        loop = asyncio.get_running_loop()

        def mark(what: str) -> None:
            self.log.runtime(f"{what} stopped ({time.monotonic() - started:.1f}s)")

        for poller in self.pollers:
            poller.request_stop()
        counts: dict[str, int] | None = None
        if self.gateway is not None:
            # Closes the sockets (1001) and runs their $disconnect, until the deadline.
            deadline = loop.time() + max(0.1, started + STOP_DISCONNECT_S - time.monotonic())
            counts = await self.gateway.stop(deadline)
            mark("gateway")
        if self.functions is not None:
            # Before joining the pollers: an invocation still in flight (a webhook to a
            # slow receiver, a $disconnect past the deadline) is cut off.
            grace = max(0.2, started + STOP_WORKERS_S - time.monotonic())
            await asyncio.to_thread(self.functions.stop, grace)
            mark("workers")
        if self.gateway is not None and counts is not None:
            await self.gateway.settle_disconnects(0.3)
            done = self.gateway.disconnect_counts
            self.log.runtime(
                f"$disconnect for {counts['connections']} connection(s) open at stop: "
                f"{done['attempted']} invoked, {done['completed']} completed, "
                f"{done['failed']} failed or cut off at the {STOP_DISCONNECT_S:g}s deadline"
            )
        self.executor.shutdown(wait=False, cancel_futures=True)

        # The servers each wait up to half a second for their loop: side by side.
        def stop_servers() -> None:
            if self.http is not None:
                self.http.stop()
            if self.receiver is not None:
                try:
                    self.receiver.stop()
                except Exception as exc:
                    self.log.runtime(f"receiver stop failed: {exc}")
            if self.moto is not None:
                self.moto.stop()

        await asyncio.gather(
            asyncio.to_thread(self._stop_pollers, started + STOP_WORKERS_S + 0.3),
            asyncio.to_thread(stop_servers),
        )
        mark("pollers, http, receiver and moto")


def _watchdog(runtime: Runtime, started: float) -> None:
    """The backstop of the stop: whatever still runs at STOP_BUDGET_S ends with the process."""
    time.sleep(max(0.0, started + STOP_BUDGET_S - 0.2 - time.monotonic()))
    runtime.log.runtime(f"stop exceeded {STOP_BUDGET_S:g}s: exiting now; what was still running:")
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    _exit_now(runtime, 0)


def _exit_now(runtime: Runtime, code: int) -> None:
    if runtime.functions is not None:
        runtime.functions.kill_all()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def serve(options: Options) -> int:
    runtime = Runtime(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stop_started: list[float] = []

    def on_signal(signum: int) -> None:
        if stop_started:  # a second Ctrl-C: no more waiting
            runtime.log.runtime(f"{signal.Signals(signum).name} again: exiting now")
            _exit_now(runtime, 130)
        stop_started.append(time.monotonic())
        threading.Thread(target=_watchdog, args=(runtime, stop_started[0]), name="stop-watchdog", daemon=True).start()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await runtime.start()
    except OSError as exc:
        await runtime.stop()
        runtime.log.runtime(f"cannot start: {exc} (choose other ports with --http-port/--ws-port, 0 = free)")
        return 1
    except BaseException:
        await runtime.stop()
        raise
    line = runtime.ready_line()
    if options.ready_file is not None:
        options.ready_file.write_text(json.dumps({**runtime.config(), "ready_line": line}))
    print(line, flush=True)
    await stop.wait()
    runtime.log.runtime("stopping")
    await runtime.stop(stop_started[0] if stop_started else None)
    runtime.log.runtime(f"stopped ({time.monotonic() - stop_started[0]:.1f}s)" if stop_started else "stopped")
    return 0


def run(options: Options) -> int:
    code = asyncio.run(serve(options))
    # Everything is stopped; what is left are threads parked on sockets and pipes that
    # are already closed. Exiting here spares the interpreter's join of each of them,
    # which under load took longer than the whole stop.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
