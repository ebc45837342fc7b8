"""What the local runtime needs from template.yaml: functions, routes, authorizers and
event sources, each pointing at a function by logical id.

Nothing here is specific to roomcast's resources: a route, function or SQS event added
to the template is picked up with no other change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roomcast_local.cfn import resources_of_type

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
_ARN_IN_SUB = re.compile(r"\$\{([A-Za-z0-9]+)\.Arn\}")
_REF_IN_SUB = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: float
    memory_mb: int
    layer_dirs: list[Path]
    reserved_concurrency: int | None = None


@dataclass
class HttpAuthorizer:
    """An HTTP API Lambda authorizer (payload 2.0) as SAM's Auth.Authorizers declares it."""

    name: str
    function: str
    headers: list[str]  # identity sources: all must be present, or API Gateway answers 401
    simple_responses: bool = True
    cache_seconds: Any = 0  # ReauthorizeEvery, raw (a !Ref is resolved by the caller)


@dataclass
class HttpRoute:
    method: str  # upper case, or ANY
    path: str  # as in the template: /rooms/{room_id}, /files/{proxy+}, or $default
    function: str
    api: str
    authorizer: HttpAuthorizer | None = None

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class WsRoute:
    key: str
    function: str | None  # None: a route with a non-Lambda target (not emulated)
    two_way: bool = False
    authorizer_function: str | None = None
    # route.request.header.X / route.request.querystring.Y: all must be present, or the
    # handshake is refused with 401 before the authorizer runs.
    identity_sources: list[str] = field(default_factory=list)


@dataclass
class WsApi:
    logical_id: str
    selection_expression: str
    routes: dict[str, WsRoute] = field(default_factory=dict)


@dataclass
class SqsSource:
    function: str
    event_name: str
    queue_logical_id: str | None  # None when the queue is not a template resource
    queue_ref: Any  # the raw Queue property, resolved later against the provisioned stack
    batch_size: int = 10
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    max_concurrency: int | None = None
    enabled: bool = True


@dataclass
class StreamSource:
    """A DynamoDB stream event source mapping (a function's `Type: DynamoDB` event)."""

    function: str
    event_name: str
    stream_ref: Any  # the raw Stream property (e.g. !GetAtt Table.StreamArn)
    starting_position: str = "LATEST"
    batch_size: int = 100
    batching_window_s: Any = 0.0  # may be a !Ref to a parameter, resolved later
    bisect_on_error: bool = False
    max_retry_attempts: int = -1  # -1: until the record expires, as Lambda's default
    on_failure_ref: Any = None  # the OnFailure Destination (an SQS queue's Arn)
    enabled: bool = True


def _function_globals(template: dict[str, Any]) -> dict[str, Any]:
    return (template.get("Globals") or {}).get("Function") or {}


def _logical_id_in(value: Any, pattern: re.Pattern[str]) -> str | None:
    """The logical id named in a !Sub string, a !GetAtt or a !Ref."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) else arg
            match = pattern.search(str(text))
            return match.group(1) if match else None
        if fn == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return str(parts[0])
        if fn == "Ref":
            return str(arg)
        if fn == "Fn::Join":
            for item in arg[1]:
                found = _logical_id_in(item, pattern)
                if found:
                    return found
    return None


def functions(template: dict[str, Any], root: Path) -> dict[str, FunctionSpec]:
    globals_fn = _function_globals(template)
    resources = template.get("Resources") or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, res in resources_of_type(template, SERVERLESS_FUNCTION).items():
        props = res.get("Properties") or {}
        code_uri = props.get("CodeUri", globals_fn.get("CodeUri", "."))
        if not isinstance(code_uri, str):
            raise ValueError(f"{logical_id}: only a local CodeUri path can run locally")
        layer_dirs: list[Path] = []
        # SAM appends a function's Layers to the global ones.
        for layer in [*(globals_fn.get("Layers") or []), *(props.get("Layers") or [])]:
            layer_id = _logical_id_in(layer, _REF_IN_SUB)
            layer_res = resources.get(layer_id or "") or {}
            content = (layer_res.get("Properties") or {}).get("ContentUri")
            if layer_res.get("Type") in ("AWS::Serverless::LayerVersion",) and isinstance(content, str):
                layer_dir = (root / content).resolve()
                # A built layer keeps its packages in python/ (mounted at /opt/python);
                # a BuildMethod layer's source is the package root itself.
                layer_dirs.append(layer_dir / "python" if (layer_dir / "python").is_dir() else layer_dir)
        reserved = props.get("ReservedConcurrentExecutions")
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(root / code_uri).resolve(),
            handler=str(props.get("Handler", globals_fn.get("Handler", "app.lambda_handler"))),
            timeout=float(props.get("Timeout", globals_fn.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            layer_dirs=layer_dirs,
            reserved_concurrency=int(reserved) if isinstance(reserved, int | str) and str(reserved).isdigit() else None,
        )
    return specs


def _http_authorizers(template: dict[str, Any]) -> tuple[dict[str, dict[str, HttpAuthorizer]], dict[str, str]]:
    """Per HttpApi: its Lambda authorizers by name, and its DefaultAuthorizer."""
    by_api: dict[str, dict[str, HttpAuthorizer]] = {}
    defaults: dict[str, str] = {}
    for api_id, res in resources_of_type(template, "AWS::Serverless::HttpApi").items():
        auth = (res.get("Properties") or {}).get("Auth") or {}
        found: dict[str, HttpAuthorizer] = {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            function = _logical_id_in(spec.get("FunctionArn"), _ARN_IN_SUB)
            if not function:
                continue  # a JWT authorizer, or a function outside the template: not emulated
            identity = spec.get("Identity") or {}
            found[name] = HttpAuthorizer(
                name=name,
                function=function,
                headers=[str(h).lower() for h in identity.get("Headers") or []],
                simple_responses=spec.get("EnableSimpleResponses") in (True, "true", "True"),
                cache_seconds=identity.get("ReauthorizeEvery", 300 if identity.get("Headers") else 0),
            )
        by_api[api_id] = found
        if auth.get("DefaultAuthorizer"):
            defaults[api_id] = str(auth["DefaultAuthorizer"])
    return by_api, defaults


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    authorizers, defaults = _http_authorizers(template)
    routes: list[HttpRoute] = []
    for logical_id, res in resources_of_type(template, SERVERLESS_FUNCTION).items():
        for event in ((res.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            api = _logical_id_in(props.get("ApiId"), _REF_IN_SUB) or "ServerlessHttpApi"
            path = props.get("Path")
            method = str(props.get("Method") or "ANY").upper()
            if path is None:  # an HttpApi event with no Path/Method is the $default route
                path = "$default"
            # A route's Auth.Authorizer overrides the API's default; NONE opens the route.
            chosen = (props.get("Auth") or {}).get("Authorizer", defaults.get(api))
            authorizer = None if chosen in (None, "NONE") else (authorizers.get(api) or {}).get(str(chosen))
            routes.append(HttpRoute(method=method, path=str(path), function=logical_id, api=api, authorizer=authorizer))
    return routes


def websocket_apis(template: dict[str, Any]) -> list[WsApi]:
    resources = template.get("Resources") or {}
    apis: dict[str, WsApi] = {}
    for logical_id, res in resources_of_type(template, "AWS::ApiGatewayV2::Api").items():
        props = res.get("Properties") or {}
        if props.get("ProtocolType") == "WEBSOCKET":
            apis[logical_id] = WsApi(
                logical_id=logical_id,
                selection_expression=str(props.get("RouteSelectionExpression", "$request.body.action")),
            )
    two_way_routes = {
        _logical_id_in((res.get("Properties") or {}).get("RouteId"), _REF_IN_SUB)
        for res in resources_of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()
    }

    def function_of(uri: Any) -> str | None:
        found = _logical_id_in(uri, _ARN_IN_SUB)
        if found and (resources.get(found) or {}).get("Type") == SERVERLESS_FUNCTION:
            return found
        return None

    for route_id, res in resources_of_type(template, "AWS::ApiGatewayV2::Route").items():
        props = res.get("Properties") or {}
        api = apis.get(_logical_id_in(props.get("ApiId"), _REF_IN_SUB) or "")
        if api is None:
            continue
        integration_id = _logical_id_in(props.get("Target"), _REF_IN_SUB)
        integration = ((resources.get(integration_id or "") or {}).get("Properties")) or {}
        authorizer_function = None
        identity_sources: list[str] = []
        if props.get("AuthorizationType") == "CUSTOM":
            authorizer_id = _logical_id_in(props.get("AuthorizerId"), _REF_IN_SUB)
            authorizer = ((resources.get(authorizer_id or "") or {}).get("Properties")) or {}
            authorizer_function = function_of(authorizer.get("AuthorizerUri"))
            sources = authorizer.get("IdentitySource") or []
            identity_sources = [str(s) for s in (sources if isinstance(sources, list) else [sources])]
        key = str(props["RouteKey"])
        api.routes[key] = WsRoute(
            key=key,
            function=function_of(integration.get("IntegrationUri")),
            two_way=route_id in two_way_routes and bool(props.get("RouteResponseSelectionExpression")),
            authorizer_function=authorizer_function,
            identity_sources=identity_sources,
        )
    return list(apis.values())


def websocket_stage(template: dict[str, Any], api_id: str) -> Any:
    """The raw StageName of the API's stage (resolved by the caller), or None."""
    for res in resources_of_type(template, "AWS::ApiGatewayV2::Stage").values():
        props = res.get("Properties") or {}
        if _logical_id_in(props.get("ApiId"), _REF_IN_SUB) == api_id:
            return props.get("StageName")
    return None


def sqs_sources(template: dict[str, Any]) -> list[SqsSource]:
    sources: list[SqsSource] = []
    for logical_id, res in resources_of_type(template, SERVERLESS_FUNCTION).items():
        for event_name, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") != "SQS":
                continue
            props = event.get("Properties") or {}
            queue = props.get("Queue")
            scaling = props.get("ScalingConfig") or {}
            sources.append(
                SqsSource(
                    function=logical_id,
                    event_name=event_name,
                    queue_logical_id=_logical_id_in(queue, _REF_IN_SUB),
                    queue_ref=queue,
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (props.get("FunctionResponseTypes") or []),
                    max_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
                    enabled=props.get("Enabled", True) not in (False, "false", "False"),
                )
            )
    return sources


def stream_sources(template: dict[str, Any]) -> list[StreamSource]:
    sources: list[StreamSource] = []
    for logical_id, res in resources_of_type(template, SERVERLESS_FUNCTION).items():
        for event_name, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") != "DynamoDB":
                continue
            props = event.get("Properties") or {}
            on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            sources.append(
                StreamSource(
                    function=logical_id,
                    event_name=event_name,
                    stream_ref=props.get("Stream"),
                    starting_position=str(props.get("StartingPosition", "LATEST")),
                    batch_size=int(props.get("BatchSize", 100)),
                    batching_window_s=props.get("MaximumBatchingWindowInSeconds", 0),
                    bisect_on_error=props.get("BisectBatchOnFunctionError", False) in (True, "true", "True"),
                    max_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    on_failure_ref=on_failure,
                    enabled=props.get("Enabled", True) not in (False, "false", "False"),
                )
            )
    return sources
