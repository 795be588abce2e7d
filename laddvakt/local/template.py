"""Reads the synthesized CloudFormation template for a local deployment: physical names, ARNs and
the intrinsic functions (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`)
resolved the way CloudFormation would resolve them for this account and region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


class TemplateError(ValueError):
    pass


@dataclass
class Template:
    body: dict[str, Any]
    account: str
    region: str
    # Values of Ref / GetAtt that only a deployment knows (a queue's URL, a custom resource's
    # answer), filled in by the deployer as it creates things.
    known: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body["Resources"]
        return resources

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    # --- names and ARNs -------------------------------------------------------------------

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        properties = resource.get("Properties", {})
        name_property = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::S3::Bucket": "BucketName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            "AWS::IoT::TopicRule": "RuleName",
            "AWS::Events::EventBus": "Name",
        }.get(resource["Type"])
        if name_property and name_property in properties:
            return str(self.resolve(properties[name_property], f"{logical_id}.{name_property}"))
        # CloudFormation makes up a unique name; bucket names are global, so the region is part of ours.
        suffix = f"-{self.region}" if resource["Type"] == "AWS::S3::Bucket" else ""
        return f"laddvakt-{logical_id.lower()[: 62 - len(suffix) - 9]}{suffix}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        a, r = self.account, self.region
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{r}:{a}:{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{r}:{a}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{r}:{a}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{a}:role/{name}",
        }
        if kind not in arns:
            raise TemplateError(f"{logical_id} ({kind}): no local ARN for this resource type")
        return arns[kind]

    # --- intrinsics -----------------------------------------------------------------------

    def ref(self, target: str, where: str) -> Any:
        if target == "AWS::AccountId":
            return self.account
        if target == "AWS::Region":
            return self.region
        if target in PSEUDO:
            return PSEUDO[target]
        if (target, "Ref") in self.known:
            return self.known[(target, "Ref")]
        if target in self.body.get("Parameters", {}):
            default = self.body["Parameters"][target].get("Default")
            if default is None:
                raise TemplateError(f"{where}: parameter {target} has no default")
            return default
        if target not in self.resources:
            raise TemplateError(f"{where}: Ref to unknown {target}")
        kind = self.resources[target]["Type"]
        if kind == "AWS::StepFunctions::StateMachine":
            return self.arn(target)
        if kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::IAM::Role"):
            return self.physical_name(target)
        raise TemplateError(f"{where}: Ref to {target} ({kind}) is not known locally")

    def get_att(self, target: str, attribute: str, where: str) -> Any:
        if (target, attribute) in self.known:
            return self.known[(target, attribute)]
        if target not in self.resources:
            raise TemplateError(f"{where}: GetAtt on unknown {target}")
        kind = self.resources[target]["Type"]
        if attribute == "Arn":
            return self.arn(target)
        if attribute in ("QueueName", "Name") and kind in (
            "AWS::SQS::Queue",
            "AWS::StepFunctions::StateMachine",
        ):
            return self.physical_name(target)
        raise TemplateError(f"{where}: Fn::GetAtt {target}.{attribute} ({kind}) is not known locally")

    def resolve(self, value: Any, where: str = "template") -> Any:
        if isinstance(value, list):
            return [self.resolve(v, where) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument, where)
            if key == "Fn::GetAtt":
                target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(target, attribute, where)
            if key == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(p, where)) for p in self.resolve(parts, where))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items, where)[int(self.resolve(index, where))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text, where)).split(separator)
            if key == "Fn::Sub":
                return self._sub(argument, where)
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{where}: {key} is not supported by the local stack")
        return {k: self.resolve(v, f"{where}.{k}") for k, v in value.items()}

    def _sub(self, argument: Any, where: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self.resolve(v, where) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                target, attribute = name.split(".", 1)
                return str(self.get_att(target, attribute, where))
            return str(self.ref(name, where))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)
