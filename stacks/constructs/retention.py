"""CloudWatch Logs retention and removal policy of an environment, as CDK values."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import EnvironmentSettings

_RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(settings: EnvironmentSettings) -> logs.RetentionDays:
    return _RETENTION_BY_DAYS[settings.log_retention_days]


def removal_policy(settings: EnvironmentSettings) -> RemovalPolicy:
    return RemovalPolicy.DESTROY if settings.destroy_on_delete else RemovalPolicy.RETAIN


def log_group(scope: Construct, construct_id: str, settings: EnvironmentSettings, key: kms.IKey) -> logs.LogGroup:
    """A log group with the environment's retention and removal policy, encrypted with `key` where the
    environment says so (`encryptLogs`; the key policy lets CloudWatch Logs use it: StorageStack)."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=log_retention(settings),
        removal_policy=removal_policy(settings),
        encryption_key=key if settings.logs_encrypted else None,
    )
