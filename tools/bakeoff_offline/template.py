"""Read ``template.yaml`` the way the offline stack needs it: functions, their environment, the
state machine's definition and substitutions. Intrinsics are resolved for local values only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"
REGION = "us-east-1"
# The one state machine the offline stack creates (OfflineStack names it so).
STATE_MACHINE_NAME = "bakeoff-evaluation"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 0.2 s -> 0.02 s
    """YAML loader that turns ``!Ref X`` into ``{"Ref": "X"}`` and ``!Sub`` into ``{"Fn::Sub": ...}``."""


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class FunctionSpec:
    logical_id: str
    handler: str  # module.path.function
    environment: dict[str, str]
    timeout: int
    memory: int

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.logical_id}"


@dataclass
class Stack:
    """What the offline stack needs from the template, with parameters and names resolved."""

    root: Path
    template: dict[str, Any]
    parameters: dict[str, Any]
    bucket_name: str
    functions: dict[str, FunctionSpec] = field(default_factory=dict)

    @property
    def state_machine(self) -> dict[str, Any]:
        return next(
            r["Properties"] for r in self.template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"
        )

    def definition(self) -> str:
        """The ASL text with ``${Placeholders}`` filled as CloudFormation would."""
        props = self.state_machine
        text = (self.root / props["DefinitionUri"]).read_text(encoding="utf-8")
        for name, value in props.get("DefinitionSubstitutions", {}).items():
            text = text.replace("${" + name + "}", str(self.resolve(value)))
        return text

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics this template uses, for local values."""
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            ref = value["Ref"]
            if ref in self.parameters:
                return self.parameters[ref]
            if ref == "AWS::Region":
                return REGION
            if ref == "AWS::AccountId":
                return ACCOUNT
            resource = self.template["Resources"].get(ref, {})
            if resource.get("Type") == "AWS::S3::Bucket":
                return self.bucket_name
            if resource.get("Type") == "AWS::Serverless::StateMachine":
                return STATE_MACHINE_ARN
            if ref in self.functions:
                return self.functions[ref].logical_id
            return ref
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            if logical_id in self.functions and attribute == "Arn":
                return self.functions[logical_id].arn
            if self.template["Resources"].get(logical_id, {}).get("Type") == "AWS::IAM::Role" and attribute == "Arn":
                return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
            raise ValueError(f"offline: cannot resolve !GetAtt {logical_id}.{attribute}")
        if "Fn::If" in value:
            name, if_true, if_false = value["Fn::If"]
            return self.resolve(if_true if self.condition(name) else if_false)
        if "Fn::Join" in value:
            sep, items = value["Fn::Join"]
            items = self.resolve(items)
            return sep.join(str(self.resolve(i)) for i in (items if isinstance(items, list) else [items]))
        raise ValueError(f"offline: unsupported intrinsic {value}")

    def condition(self, name: str) -> bool:
        """A named condition of ``Conditions:``, for the functions this template uses in them."""
        return self._truth(self.template.get("Conditions", {})[name])

    def _truth(self, value: Any) -> bool:
        if "Fn::Equals" in value:
            left, right = (self.resolve(v) for v in value["Fn::Equals"])
            return str(left) == str(right)
        if "Fn::Not" in value:
            return not self._truth(value["Fn::Not"][0])
        if "Condition" in value:
            return self.condition(value["Condition"])
        raise ValueError(f"offline: unsupported condition {value}")


def _parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        default = spec.get("Default")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(default, str):
            default = [v.strip() for v in default.split(",") if v.strip()]
        out[name] = default
    return out


def read_stack(root: Path, *, parameters: dict[str, Any] | None = None, bucket_name: str = "bakeoff-local") -> Stack:
    template = load_template(root / "template.yaml")
    params = _parameter_defaults(template) | (parameters or {})
    stack = Stack(root=root, template=template, parameters=params, bucket_name=bucket_name)
    globals_fn = template.get("Globals", {}).get("Function", {})
    global_env = globals_fn.get("Environment", {}).get("Variables", {})
    # First pass: names, so that env values may refer to functions.
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            stack.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=props["Handler"],
                environment={},
                timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
                memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
            )
    for logical_id, spec in stack.functions.items():
        props = template["Resources"][logical_id]["Properties"]
        variables = global_env | props.get("Environment", {}).get("Variables", {})
        spec.environment = {k: str(stack.resolve(v)) for k, v in variables.items()}
    return stack
