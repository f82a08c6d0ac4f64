"""The twin's PolicyBook reads every identity policy a role has in the template, overflow managed policies included."""

from __future__ import annotations

from nova_pipeline.local.iam import PolicyBook
from nova_pipeline.local.template import CloudAssembly


def test_statements_cdk_moved_to_an_overflow_managed_policy_are_the_roles_too() -> None:
    # Given: a role whose policy outgrew IAM's size limit, as CDK synthesizes it (aws-iam Role.splitLargePolicy)
    statement = {"Effect": "Allow", "Action": "states:DescribeExecution", "Resource": "arn:aws:states:*"}
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "RoleOverflowPolicy1": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                    "Roles": [{"Ref": "Role"}],
                },
            },
        }
    }
    assembly = CloudAssembly({"stack": template})

    # When
    book = PolicyBook.from_assembly(assembly)

    # Then: the role may describe executions (as in AWS, where the managed policy is attached to it)
    [role] = assembly.of_type("AWS::IAM::Role")
    [granted] = book.granting(role.arn, "states:DescribeExecution", "arn:aws:states:us-east-1:1:execution:x", {})
    assert granted.source == "stack/RoleOverflowPolicy1#0"
