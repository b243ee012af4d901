//! A scripted ECS rollout, played by the [`FaultProxy`](crate::FaultProxy).
//!
//! moto never starts tasks, never writes service events, and after
//! UpdateService its PRIMARY deployment keeps the first task definition, so a
//! rollout (and how it fails) cannot be watched on moto itself. A
//! [`RolloutScript`] makes the proxy tell the story instead: once the first
//! ECS `CreateService` or `UpdateService` has been forwarded to moto (so that
//! planning reads see plain moto), every DescribeServices answer from moto is
//! patched with the next of [`RolloutScript::service_polls`], and the reads
//! that explain a failure (tasks, container instances, target health, log
//! lines) get canned answers, without reaching moto, when the script has one.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

/// What the proxy makes of the ECS rollout that follows the first
/// CreateService/UpdateService.
#[derive(Debug, Clone, Default)]
pub struct RolloutScript {
    /// Patches for successive DescribeServices answers: the Nth answer after
    /// activation gets the Nth patch, the last one repeats forever. A patch is
    /// a JSON object whose top-level keys replace the service's (for every
    /// service in the answer). Within its strings, `{task_definition}`,
    /// `{previous_task_definition}` (the same family, one revision down),
    /// `{service_arn}` and `{cluster_arn}` become the values of the service in
    /// moto's answer. Empty: answers are moto's.
    pub service_polls: Vec<Value>,
    /// ECS ListTasks answer body.
    pub list_tasks: Option<Value>,
    /// ECS DescribeTasks answer body (`{"tasks": [...], "failures": []}`).
    pub describe_tasks: Option<Value>,
    /// ECS ListContainerInstances answer body.
    pub list_container_instances: Option<Value>,
    /// ECS DescribeContainerInstances answer body.
    pub describe_container_instances: Option<Value>,
    /// The targets ELBv2 DescribeTargetHealth reports (for any target group).
    pub target_health: Option<Vec<TargetHealth>>,
    /// Messages CloudWatch Logs GetLogEvents returns (for any stream), oldest
    /// first, stamped one second apart and ending at the moment of the answer.
    pub log_events: Option<Vec<String>>,
}

/// One target in a scripted DescribeTargetHealth answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    /// Instance id or IP address.
    pub id: String,
    /// Traffic and health-check port.
    pub port: u16,
    /// `healthy`, `unhealthy`, `initial`, `draining`, ...
    pub state: String,
    /// Such as `Target.ResponseCodeMismatch`.
    pub reason: Option<String>,
    /// Such as `Health checks failed with these codes: [502]`.
    pub description: Option<String>,
}

/// An answer the proxy gives itself instead of asking moto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CannedAnswer {
    pub content_type: &'static str,
    pub body: String,
}

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The forward token of a scripted GetLogEvents answer: asked for again, the
/// stream has nothing newer, as a real stream read to its end.
const LOG_FORWARD_TOKEN: &str = "f/1";

impl RolloutScript {
    /// The answer the script gives to `operation` of `service` in place of
    /// moto, if it has one. `request_body` is the client's request.
    pub(crate) fn canned(&self, service: &str, operation: &str, request_body: &[u8]) -> Option<CannedAnswer> {
        let json_answer = |body: &Option<Value>| {
            body.as_ref().map(|body| CannedAnswer { content_type: JSON_CONTENT_TYPE, body: body.to_string() })
        };
        match (service, operation) {
            ("ecs", "ListTasks") => json_answer(&self.list_tasks),
            ("ecs", "DescribeTasks") => json_answer(&self.describe_tasks),
            ("ecs", "ListContainerInstances") => json_answer(&self.list_container_instances),
            ("ecs", "DescribeContainerInstances") => json_answer(&self.describe_container_instances),
            ("elasticloadbalancing", "DescribeTargetHealth") => self
                .target_health
                .as_ref()
                .map(|targets| CannedAnswer { content_type: "text/xml", body: target_health_xml(targets) }),
            ("logs", "GetLogEvents") => self.log_events.as_ref().map(|messages| {
                let asked_token = serde_json::from_slice::<Value>(request_body)
                    .ok()
                    .and_then(|request| request.get("nextToken").and_then(Value::as_str).map(str::to_owned));
                let messages: &[String] =
                    if asked_token.as_deref() == Some(LOG_FORWARD_TOKEN) { &[] } else { messages };
                CannedAnswer { content_type: JSON_CONTENT_TYPE, body: log_events_json(messages, now_millis()) }
            }),
            _ => None,
        }
    }

    /// The patch for the `index`th DescribeServices answer since activation.
    pub(crate) fn poll_patch(&self, index: usize) -> Option<&Value> {
        self.service_polls.get(index).or(self.service_polls.last())
    }
}

/// Applies `patch` to every service of a DescribeServices answer `body`;
/// `None` when the body is not a JSON object (it is then relayed as it is).
pub(crate) fn patch_services(body: &[u8], patch: &Value) -> Option<Vec<u8>> {
    let mut answer: Value = serde_json::from_slice(body).ok()?;
    let services = answer.get_mut("services")?.as_array_mut()?;
    for service in services.iter_mut().filter_map(Value::as_object_mut) {
        let substitutions = substitutions(service);
        let mut patch = patch.clone();
        substitute(&mut patch, &substitutions);
        if let Value::Object(fields) = patch {
            for (key, value) in fields {
                service.insert(key, value);
            }
        }
    }
    serde_json::to_vec(&answer).ok()
}

/// Placeholder -> value, from one service of moto's answer.
fn substitutions(service: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let field = |name: &str| service.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut pairs = Vec::new();
    if let Some(task_definition) = field("taskDefinition") {
        pairs.push(("{previous_task_definition}", previous_revision(&task_definition)));
        pairs.push(("{task_definition}", task_definition));
    }
    if let Some(arn) = field("serviceArn") {
        pairs.push(("{service_arn}", arn));
    }
    if let Some(arn) = field("clusterArn") {
        pairs.push(("{cluster_arn}", arn));
    }
    pairs
}

/// Replaces placeholders in every string of `value`, also within longer
/// strings, so that event messages can name the task definition.
fn substitute(value: &mut Value, substitutions: &[(&'static str, String)]) {
    match value {
        Value::String(text) => {
            for (placeholder, replacement) in substitutions {
                if text.contains(placeholder) {
                    *text = text.replace(placeholder, replacement);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| substitute(item, substitutions)),
        Value::Object(fields) => fields.values_mut().for_each(|item| substitute(item, substitutions)),
        _ => {}
    }
}

/// `...:task-definition/fam:3` -> `...:task-definition/fam:2`; an ARN without
/// a numeric revision is returned as it is.
pub(crate) fn previous_revision(task_definition: &str) -> String {
    match task_definition.rsplit_once(':') {
        Some((family, revision)) => match revision.parse::<u64>() {
            Ok(revision) => format!("{family}:{}", revision.saturating_sub(1)),
            Err(_) => task_definition.to_owned(),
        },
        None => task_definition.to_owned(),
    }
}

fn target_health_xml(targets: &[TargetHealth]) -> String {
    let mut members = String::new();
    for target in targets {
        let optional = |tag: &str, value: &Option<String>| {
            value.as_deref().map(|v| format!("<{tag}>{}</{tag}>", xml_escape(v))).unwrap_or_default()
        };
        members.push_str(&format!(
            "<member><Target><Id>{id}</Id><Port>{port}</Port></Target><HealthCheckPort>{port}</HealthCheckPort>\
             <TargetHealth><State>{state}</State>{reason}{description}</TargetHealth></member>",
            id = xml_escape(&target.id),
            port = target.port,
            state = xml_escape(&target.state),
            reason = optional("Reason", &target.reason),
            description = optional("Description", &target.description),
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeTargetHealthResponse \
         xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><DescribeTargetHealthResult>\
         <TargetHealthDescriptions>{members}</TargetHealthDescriptions></DescribeTargetHealthResult>\
         <ResponseMetadata><RequestId>rollout-script</RequestId></ResponseMetadata></DescribeTargetHealthResponse>"
    )
}

fn log_events_json(messages: &[String], now_millis: i64) -> String {
    let count = messages.len() as i64;
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            let timestamp = now_millis - (count - 1 - i as i64) * 1000;
            json!({"timestamp": timestamp, "message": message, "ingestionTime": timestamp + 1})
        })
        .collect();
    json!({"events": events, "nextForwardToken": LOG_FORWARD_TOKEN, "nextBackwardToken": "b/1"}).to_string()
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_revision_is_one_down() {
        let arn = "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/example-app:3";
        assert_eq!(previous_revision(arn), "arn:aws:ecs:ap-northeast-2:123456789012:task-definition/example-app:2");
        assert_eq!(previous_revision("example-app"), "example-app");
    }

    #[test]
    fn patches_replace_top_level_keys_and_fill_placeholders() {
        let moto = json!({"services": [{
            "serviceArn": "arn:svc", "clusterArn": "arn:cluster", "runningCount": 1, "status": "ACTIVE",
            "taskDefinition": "arn:aws:ecs:r:1:task-definition/app:7",
            "deployments": [{"id": "moto", "status": "PRIMARY"}],
        }], "failures": []});
        let patch = json!({
            "runningCount": 0,
            "deployments": [{"id": "ecs-svc/2", "taskDefinition": "{task_definition}"},
                            {"id": "ecs-svc/1", "taskDefinition": "{previous_task_definition}"}],
            "events": [{"id": "e1", "createdAt": 1767225600,
                        "message": "(service {service_arn}) in {cluster_arn} is unable to start tasks"}],
        });
        let patched: Value = serde_json::from_slice(&patch_services(moto.to_string().as_bytes(), &patch).unwrap())
            .expect("patched JSON");
        let service = &patched["services"][0];
        assert_eq!(service["runningCount"], 0);
        assert_eq!(service["status"], "ACTIVE", "keys the patch does not name stay moto's");
        assert_eq!(service["deployments"][0]["taskDefinition"], "arn:aws:ecs:r:1:task-definition/app:7");
        assert_eq!(service["deployments"][1]["taskDefinition"], "arn:aws:ecs:r:1:task-definition/app:6");
        assert_eq!(service["events"][0]["createdAt"], json!(1767225600));
        assert_eq!(service["events"][0]["message"], "(service arn:svc) in arn:cluster is unable to start tasks");
        assert_eq!(patched["failures"], json!([]));
    }

    #[test]
    fn the_last_poll_patch_repeats() {
        let script =
            RolloutScript { service_polls: vec![json!({"a": 1}), json!({"a": 2})], ..RolloutScript::default() };
        let patches: Vec<_> = (0..4).map(|k| script.poll_patch(k).cloned()).collect();
        assert_eq!(
            patches,
            [Some(json!({"a": 1})), Some(json!({"a": 2})), Some(json!({"a": 2})), Some(json!({"a": 2}))]
        );
        assert_eq!(RolloutScript::default().poll_patch(0), None);
    }

    #[test]
    fn log_events_end_now_and_a_second_read_is_empty() {
        let script = RolloutScript { log_events: Some(vec!["one".into(), "two".into()]), ..RolloutScript::default() };
        let first: Value = serde_json::from_str(&script.canned("logs", "GetLogEvents", b"{}").unwrap().body).unwrap();
        let events = first["events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["timestamp"].as_i64().unwrap() - events[0]["timestamp"].as_i64().unwrap(), 1000);
        let token = first["nextForwardToken"].as_str().unwrap();
        let again = format!(r#"{{"logGroupName":"g","logStreamName":"s","nextToken":"{token}"}}"#);
        let second: Value =
            serde_json::from_str(&script.canned("logs", "GetLogEvents", again.as_bytes()).unwrap().body).unwrap();
        assert_eq!(second["events"], json!([]));
        assert_eq!(second["nextForwardToken"], token);
    }

    #[test]
    fn target_health_text_is_escaped() {
        let xml = target_health_xml(&[TargetHealth {
            id: "10.0.1.5".into(),
            port: 8080,
            state: "unhealthy".into(),
            reason: None,
            description: Some("codes: <502> & more".into()),
        }]);
        assert!(xml.contains("<Description>codes: &lt;502&gt; &amp; more</Description>"), "{xml}");
        assert!(!xml.contains("<Reason>"), "{xml}");
    }
}
