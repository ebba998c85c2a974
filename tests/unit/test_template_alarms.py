"""Spend cannot run away unnoticed: the cost alarms, their thresholds and the SNS topic."""

from __future__ import annotations

from bakeoff_offline.template import load_template
from tests.conftest import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]


def alarms():
    return {k: r["Properties"] for k, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_the_thresholds_default_to_10_and_25_dollars():
    assert TEMPLATE["Parameters"]["CostAlarmThresholdsUsd"]["Default"] == "10,25"


def test_cost_alarms_sum_the_cost_metric_over_all_models():
    by_threshold = {}
    for props in alarms().values():
        if props["Namespace"] == "Bakeoff":
            assert props["MetricName"] == "CostUsd" and props["Statistic"] == "Sum"
            assert props["Dimensions"] == [{"Name": "scope", "Value": "all"}]
            by_threshold[props["Threshold"]["Fn::Select"][0]] = props
    assert set(by_threshold) == {0, 1}  # warning ($10) and critical ($25)
    for props in by_threshold.values():
        assert props["AlarmActions"] == [{"Ref": "CostAlarmTopic"}]


def test_billing_alarm_only_where_billing_metrics_exist():
    billing = [(k, RESOURCES[k]) for k, p in alarms().items() if p["Namespace"] == "AWS/Billing"]
    assert len(billing) == 1
    logical_id, resource = billing[0]
    assert resource["Condition"] == "InUsEast1"
    assert TEMPLATE["Conditions"]["InUsEast1"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert resource["Properties"]["MetricName"] == "EstimatedCharges"


def test_one_topic_with_an_email_subscription_from_a_parameter():
    topics = [k for k, r in RESOURCES.items() if r["Type"] == "AWS::SNS::Topic"]
    assert topics == ["CostAlarmTopic"]
    subscription = next(r for r in RESOURCES.values() if r["Type"] == "AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Condition"] == "HasAlarmEmail"


def test_every_function_is_traced():
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"


def test_the_daily_alarms_watch_bakeoffs_own_spend_and_the_account_alarm_says_it_is_account_level():
    props = alarms()
    for name in ("CostWarningAlarm", "CostCriticalAlarm"):
        assert props[name]["Period"] == 86400  # a day
        assert "model-spend-per-day" in props[name]["AlarmName"]["Fn::Sub"]
    account = props["BillingAlarm"]
    assert "ACCOUNT" in account["AlarmName"]["Fn::Sub"] and account["AlarmDescription"].startswith("ACCOUNT-LEVEL")
    assert account["Threshold"] == {"Ref": "AccountChargesAlarmUsd"}
    assert TEMPLATE["Parameters"]["AccountChargesAlarmUsd"]["Default"] == 25  # as before: $25
