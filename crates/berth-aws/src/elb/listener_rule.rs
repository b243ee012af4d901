//! A rule of a listener: requests matching its path or host patterns go to
//! its target group. Rules have no tags of their own: they are the
//! listener's, listed by it and managed exactly.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, HostHeaderConditionConfig, PathPatternConditionConfig, Rule, RuleCondition,
};
use berth_core::kind::Kind;
use berth_core::provider::{Live, LiveChild, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Map, Value};

use super::MISSING;
use crate::handler::{check_in_place, Handler};
use crate::once::send_once;
use crate::util::{absent_on, int_field, invalid, live_arn, outputs, str_field};
use crate::{aws_error, Clients};

pub(crate) struct ListenerRule;

#[async_trait]
impl Handler for ListenerRule {
    fn kind(&self) -> Kind {
        Kind::ListenerRule
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["PriorityInUse"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let listener = str_field(req, "listener_arn")?;
        let priority = int_field(req, "priority")?.to_string();
        let Some(rules) = listener_rules(c, listener).await? else { return Ok(None) };
        Ok(rules.iter().find(|r| r.priority() == Some(priority.as_str())).map(|r| live_rule(listener, r)))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let priority = i32::try_from(int_field(req, "priority")?).map_err(|e| invalid(req, e))?;
        let call = c
            .elb
            .create_rule()
            .listener_arn(str_field(req, "listener_arn")?)
            .priority(priority)
            .set_conditions(Some(conditions(req)))
            .actions(forward(str_field(req, "target_group_arn")?));
        let out = send_once!(aws_sdk_elasticloadbalancingv2, call).map_err(aws_error)?;
        let rule = out.rules().first().ok_or_else(|| invalid(req, "CreateRule returned no rule"))?;
        Ok(outputs([("arn", rule.rule_arn().into())]))
    }

    /// Conditions and target group change in place; the listener and
    /// priority say which rule it is.
    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        check_in_place(req, changed, &["conditions", "target_group_arn"])?;
        c.elb
            .modify_rule()
            .rule_arn(live_arn(req, live)?)
            .set_conditions(Some(conditions(req)))
            .actions(forward(str_field(req, "target_group_arn")?))
            .send()
            .await
            .map_err(aws_error)?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let deleted = c.elb.delete_rule().rule_arn(live_arn(req, live)?).send().await;
        absent_on(deleted, &["RuleNotFound", "ListenerNotFound"]).map(drop)
    }
}

/// The rules of the listener at `listener` (not its default action), the
/// children of a listener: `None` when the listener is not there.
pub(crate) async fn listener_rules(c: &Clients, listener: &str) -> ProviderResult<Option<Vec<Rule>>> {
    let described = c.elb.describe_rules().listener_arn(listener).send().await;
    let Some(out) = absent_on(described, MISSING)? else { return Ok(None) };
    Ok(Some(out.rules.unwrap_or_default().into_iter().filter(|r| r.is_default() != Some(true)).collect()))
}

/// A live rule as a child of its listener, addressed by its priority.
pub(crate) fn rule_child(listener: &str, rule: &Rule) -> LiveChild {
    let label = format!("rules[{}]", rule.priority().unwrap_or_default());
    LiveChild { kind: Kind::ListenerRule, label, live: live_rule(listener, rule) }
}

fn live_rule(listener: &str, rule: &Rule) -> Live {
    let mut found = Map::new();
    for condition in rule.conditions() {
        let values = match condition.field() {
            Some("path-pattern") => condition.path_pattern_config().map(|c| c.values()),
            Some("host-header") => condition.host_header_config().map(|c| c.values()),
            _ => None,
        };
        // Older rules carry their patterns in `values` only.
        let values = values.filter(|v| !v.is_empty()).unwrap_or(condition.values());
        let key = if condition.field() == Some("host-header") { "host" } else { "path" };
        found.insert(key.into(), json!(values));
    }
    let target_group =
        rule.actions().iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward)).and_then(|a| a.target_group_arn());
    let priority: Value = rule.priority().and_then(|p| p.parse::<i64>().ok()).into();
    let mut state = json!({ "listener_arn": listener, "priority": priority, "conditions": found });
    if let Some(target_group) = target_group {
        state["target_group_arn"] = json!(target_group);
    }
    Live { state, outputs: outputs([("arn", rule.rule_arn().into())]), tags: None }
}

fn conditions(req: &NodeRequest<'_>) -> Vec<RuleCondition> {
    let patterns = |key: &str| -> Option<Vec<String>> {
        let values = req.desired.get("conditions")?.get(key)?.as_array()?;
        Some(values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    };
    let mut found = Vec::new();
    if let Some(paths) = patterns("path") {
        let config = PathPatternConditionConfig::builder().set_values(Some(paths)).build();
        found.push(RuleCondition::builder().field("path-pattern").path_pattern_config(config).build());
    }
    if let Some(hosts) = patterns("host") {
        let config = HostHeaderConditionConfig::builder().set_values(Some(hosts)).build();
        found.push(RuleCondition::builder().field("host-header").host_header_config(config).build());
    }
    found
}

fn forward(target_group_arn: &str) -> Action {
    Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(target_group_arn).build()
}
