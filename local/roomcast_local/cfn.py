"""Reading template.yaml: CloudFormation's YAML tags, and intrinsic functions resolved
against local resources.

The local runtime and the tests both read the template through this module, so a
resource or variable added to the template is seen by both with no other change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "ImportValue": "Fn::ImportValue",
    "GetAZs": "Fn::GetAZs",
    "Base64": "Fn::Base64",
}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` into {"Ref": "X"}, `!GetAtt A.B` into {"Fn::GetAtt": [A, B]}..."""


def _construct(fn_name: str) -> Callable[[CfnLoader, yaml.Node], Any]:
    def construct(loader: CfnLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if fn_name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {fn_name: value}

    return construct


for _tag, _fn in _SHORT_TAGS.items():
    CfnLoader.add_constructor(f"!{_tag}", _construct(_fn))


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader


def resources_of_type(template: Mapping[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {
        name: res
        for name, res in (template.get("Resources") or {}).items()
        if res.get("Type") in types
    }


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: spec.get("Default", "")
        for name, spec in (template.get("Parameters") or {}).items()
    }


_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class Resolver:
    """Resolves intrinsic functions.

    refs: what `Ref X` gives for parameters, pseudo parameters and resources.
    attrs: what `GetAtt X.Attr` gives, keyed "X.Attr".
    A reference to something unknown raises KeyError naming it: a template the local
    runtime cannot honour fails loudly rather than running with a wrong value.
    """

    def __init__(self, refs: Mapping[str, Any], attrs: Mapping[str, Any] | None = None) -> None:
        # Kept by reference: provisioning adds entries as resources come to exist.
        self.refs = refs  # type: ignore[assignment]
        self.attrs = attrs if attrs is not None else {}  # type: ignore[assignment]

    def ref(self, name: str) -> Any:
        if name not in self.refs:
            raise KeyError(f"template reference not available locally: Ref {name}")
        return self.refs[name]

    def getatt(self, name: str, attribute: str) -> Any:
        key = f"{name}.{attribute}"
        if key not in self.attrs:
            raise KeyError(f"template attribute not available locally: GetAtt {key}")
        return self.attrs[key]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (fn, arg), = value.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.getatt(parts[0], parts[1])
            if fn == "Fn::Sub":
                return self._sub(arg)
            if fn == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(i) for i in self.resolve(items))
            if fn == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if fn == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if fn == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if fn == "Fn::If":
                condition, when_true, when_false = arg
                chosen = when_true if self.refs.get(f"Condition::{condition}") else when_false
                return self.resolve(chosen)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, local_vars = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, local_vars = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local_vars:
                return str(local_vars[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return str(self.getatt(resource, attribute))
            return str(self.ref(name))

        return _SUB_VAR.sub(replace, text).replace("${!", "${")
