//! Normalization: desired and live states are both brought to one canonical
//! form before they are compared, so that values AWS returns in another form
//! (defaults, ordering, single strings for lists, URL-encoded policies) do not
//! show up as changes. See `docs/anchors.md` for the sources.

use serde_json::{Map, Value};

use crate::kind::Kind;

/// The canonical form of a node's state: nulls dropped, then the kind's own
/// normalization ([`crate::kind::KindSpec::normalize`]).
pub fn normalize(kind: Kind, state: &Value) -> Value {
    let mut state = drop_nulls(state);
    if let Some(fields) = state.as_object_mut() {
        (kind.spec().normalize)(fields);
    }
    state
}

/// Kinds whose state AWS returns as it was sent.
pub(crate) fn as_written(_: &mut Map<String, Value>) {}

pub(crate) fn policy_document(fields: &mut Map<String, Value>) {
    map_field(fields, "document", policy);
}

pub(crate) fn trust_policy(fields: &mut Map<String, Value>) {
    map_field(fields, "assume_role_policy", policy);
}

pub(crate) fn bucket_policy(fields: &mut Map<String, Value>) {
    map_field(fields, "policy", policy);
}

pub(crate) fn launch_template(fields: &mut Map<String, Value>) {
    sort_field(fields, "security_group_ids");
}

pub(crate) fn autoscaling_group(fields: &mut Map<String, Value>) {
    sort_field(fields, "subnet_ids");
}

pub(crate) fn load_balancer(fields: &mut Map<String, Value>) {
    sort_field(fields, "subnet_ids");
    sort_field(fields, "security_group_ids");
}

pub(crate) fn ecs_service(fields: &mut Map<String, Value>) {
    if let Some(Value::Object(network)) = fields.get_mut("network_configuration") {
        sort_field(network, "subnets");
        sort_field(network, "security_groups");
    }
    // AWS reports what a service does not use as off or zero.
    if let Some(Value::Object(deployment)) = fields.get_mut("deployment") {
        if deployment.get("circuit_breaker").and_then(|b| b.get("enable")) == Some(&Value::Bool(false)) {
            deployment.remove("circuit_breaker");
        }
    }
    if fields.get("health_check_grace_period_seconds").and_then(Value::as_i64) == Some(0) {
        fields.remove("health_check_grace_period_seconds");
    }
    if fields.get("enable_execute_command") == Some(&Value::Bool(false)) {
        fields.remove("enable_execute_command");
    }
}

pub(crate) fn cluster_capacity_providers(fields: &mut Map<String, Value>) {
    sort_field(fields, "capacity_providers");
}

/// An all-protocols rule covers every port: AWS reads its ports back as -1
/// whatever was sent, so the ports say nothing.
pub(crate) fn ingress_rule(fields: &mut Map<String, Value>) {
    if fields.get("protocol").and_then(Value::as_str) == Some("-1") {
        fields.insert("from_port".into(), Value::from(-1));
        fields.insert("to_port".into(), Value::from(-1));
    }
}

fn drop_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), drop_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(drop_nulls).collect()),
        other => other.clone(),
    }
}

fn map_field(fields: &mut Map<String, Value>, name: &str, f: fn(&Value) -> Value) {
    if let Some(v) = fields.get_mut(name) {
        *v = f(v);
    }
}

/// Sorts the list in `fields[name]`, if there is one: for lists AWS keeps as sets.
pub(crate) fn sort_field(fields: &mut Map<String, Value>, name: &str) {
    if let Some(Value::Array(items)) = fields.get_mut(name) {
        sort_values(items);
    }
}

fn sort_values(items: &mut [Value]) {
    items.sort_by_key(|v| v.to_string());
}

/// A string or a list of strings, as a sorted, de-duplicated list.
fn string_set(value: &Value) -> Value {
    let mut items: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    sort_values(&mut items);
    items.dedup();
    Value::Array(items)
}

/// A policy document in canonical form (Terraform's policy equivalence):
/// statement order does not matter, Action/Resource/Principal/Condition
/// values are sets, a single string equals a one-element list, Effect is
/// case-insensitive, a bare account id equals its root ARN.
pub fn policy(document: &Value) -> Value {
    let mut document = match document {
        // IAM returns documents URL-encoded; decode here too in case a provider did not.
        Value::String(text) => serde_json::from_str(text)
            .or_else(|_| serde_json::from_str(&urlencoding::decode(text).unwrap_or_default()))
            .unwrap_or_else(|_| document.clone()),
        other => other.clone(),
    };
    let Some(fields) = document.as_object_mut() else { return document };
    if let Some(statements) = fields.get_mut("Statement") {
        let mut list: Vec<Value> = match &*statements {
            Value::Array(items) => items.iter().map(statement).collect(),
            single => vec![statement(single)],
        };
        sort_values(&mut list);
        *statements = Value::Array(list);
    }
    document
}

fn statement(statement: &Value) -> Value {
    let Some(fields) = statement.as_object() else { return statement.clone() };
    let mut out = Map::new();
    for (key, value) in fields {
        let value = match key.as_str() {
            "Effect" => match value.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("allow") => Value::from("Allow"),
                Some("deny") => Value::from("Deny"),
                _ => value.clone(),
            },
            "Action" | "NotAction" | "Resource" | "NotResource" => string_set(value),
            "Principal" | "NotPrincipal" => principal(value),
            "Condition" => condition(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn principal(value: &Value) -> Value {
    let Some(map) = value.as_object() else { return value.clone() };
    Value::Object(
        map.iter()
            .map(|(kind, ids)| {
                let ids = match string_set(ids) {
                    Value::Array(items) if kind == "AWS" => {
                        let mut items: Vec<Value> = items.iter().map(account_root).collect();
                        sort_values(&mut items);
                        Value::Array(items)
                    }
                    other => other,
                };
                (kind.clone(), ids)
            })
            .collect(),
    )
}

fn account_root(id: &Value) -> Value {
    match id.as_str() {
        Some(s) if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Value::from(format!("arn:aws:iam::{s}:root"))
        }
        _ => id.clone(),
    }
}

fn condition(value: &Value) -> Value {
    let Some(operators) = value.as_object() else { return value.clone() };
    Value::Object(
        operators
            .iter()
            .map(|(op, keys)| {
                let keys = match keys.as_object() {
                    Some(keys) => Value::Object(keys.iter().map(|(k, v)| (k.clone(), string_set(v))).collect()),
                    None => keys.clone(),
                };
                (op.clone(), keys)
            })
            .collect(),
    )
}

/// Container-definition fields where an empty list means the same as none.
const EMPTY_MEANS_UNSET: &[&str] = &[
    "command",
    "depends_on",
    "entry_point",
    "environment",
    "environment_files",
    "links",
    "port_mappings",
    "secrets",
    "mount_points",
    "volumes_from",
    "ulimits",
];

/// ECS's defaults for a container health check's unset fields.
const HEALTH_CHECK_DEFAULTS: &[(&str, i64)] = &[("interval", 30), ("timeout", 5), ("retries", 3), ("start_period", 0)];

pub(crate) fn task_definition(fields: &mut Map<String, Value>) {
    let network_mode = fields.get("network_mode").and_then(Value::as_str).unwrap_or("bridge").to_owned();
    fields.insert("network_mode".into(), Value::from(network_mode.clone()));
    sort_field(fields, "requires_compatibilities");
    if fields.get("requires_compatibilities").and_then(Value::as_array).is_some_and(|a| a.is_empty()) {
        fields.remove("requires_compatibilities");
    }
    if let Some(Value::Object(platform)) = fields.get_mut("runtime_platform") {
        platform.entry("cpu_architecture").or_insert_with(|| Value::from("X86_64"));
        platform.entry("operating_system_family").or_insert_with(|| Value::from("LINUX"));
    }
    // Unset, a task runs on x86-64 Linux.
    if fields.get("runtime_platform")
        == Some(&serde_json::json!({"cpu_architecture": "X86_64", "operating_system_family": "LINUX"}))
    {
        fields.remove("runtime_platform");
    }
    match fields.get_mut("volumes") {
        Some(Value::Array(volumes)) if volumes.is_empty() => {
            fields.remove("volumes");
        }
        Some(Value::Array(volumes)) => volumes.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str())),
        _ => {}
    }
    if let Some(Value::Array(containers)) = fields.get_mut("container_definitions") {
        for container in containers.iter_mut() {
            if let Some(c) = container.as_object_mut() {
                normalize_container(c, &network_mode);
            }
        }
        containers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
}

fn normalize_container(c: &mut Map<String, Value>, network_mode: &str) {
    if !c.contains_key("essential") {
        c.insert("essential".into(), Value::Bool(true));
    }
    if c.get("cpu").and_then(Value::as_i64) == Some(0) {
        c.remove("cpu");
    }
    if let Some(Value::Array(env)) = c.get_mut("environment") {
        // AWS drops variables with an empty value and may reorder the rest.
        env.retain(|e| e.get("value").and_then(Value::as_str).is_some_and(|v| !v.is_empty()));
        env.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    if let Some(Value::Array(secrets)) = c.get_mut("secrets") {
        secrets.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    if let Some(Value::Object(check)) = c.get_mut("health_check") {
        for (field, default) in HEALTH_CHECK_DEFAULTS {
            check.entry(*field).or_insert_with(|| Value::from(*default));
        }
    }
    if let Some(Value::Array(mounts)) = c.get_mut("mount_points") {
        for mount in mounts.iter_mut().filter_map(Value::as_object_mut) {
            if mount.get("read_only") == Some(&Value::Bool(false)) {
                mount.remove("read_only");
            }
        }
        mounts.sort_by(|a, b| a["container_path"].as_str().cmp(&b["container_path"].as_str()));
    }
    if let Some(Value::Array(ulimits)) = c.get_mut("ulimits") {
        ulimits.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    if let Some(Value::Array(mappings)) = c.get_mut("port_mappings") {
        for mapping in mappings.iter_mut() {
            let Some(m) = mapping.as_object_mut() else { continue };
            if m.get("protocol").and_then(Value::as_str) == Some("tcp") {
                m.remove("protocol");
            }
            let host = m.get("host_port").and_then(Value::as_i64);
            match network_mode {
                // In bridge mode a missing host port and 0 both mean "dynamic".
                "bridge" if host == Some(0) => {
                    m.remove("host_port");
                }
                // In awsvpc and host mode the host port is the container port.
                "awsvpc" | "host" if host.is_none() => {
                    if let Some(port) = m.get("container_port").cloned() {
                        m.insert("host_port".into(), port);
                    }
                }
                _ => {}
            }
        }
        sort_values(mappings);
    }
    for field in EMPTY_MEANS_UNSET {
        if c.get(*field).and_then(Value::as_array).is_some_and(|a| a.is_empty()) {
            c.remove(*field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equivalent_policies_normalize_equal() {
        let ours = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]},
            {"Effect": "Allow", "Principal": {"AWS": ["123456789012"]}, "Action": ["b:x", "a:y"], "Resource": "*"},
        ]});
        let theirs = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": ["a:y", "b:x"], "Resource": ["*"]},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        ]});
        assert_eq!(policy(&ours), policy(&theirs));
        let encoded = Value::from(urlencoding::encode(&theirs.to_string()).into_owned());
        assert_eq!(policy(&ours), policy(&encoded));
    }

    #[test]
    fn different_policies_stay_different() {
        let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        let b = json!({"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]});
        assert_ne!(policy(&a), policy(&b));
    }

    #[test]
    fn task_definition_defaults_from_aws_do_not_differ() {
        let desired = json!({"family": "f", "network_mode": "bridge", "container_definitions": [
            {"name": "b", "image": "nginx", "essential": true, "port_mappings": [{"container_port": 80, "host_port": 0, "protocol": "tcp"}], "links": ["a"]},
            {"name": "a", "image": "app", "essential": true, "environment": [{"name": "Z", "value": "1"}, {"name": "A", "value": "2"}, {"name": "E", "value": ""}]},
        ]});
        let live = json!({"family": "f", "network_mode": "bridge", "container_definitions": [
            {"name": "a", "image": "app", "cpu": 0, "environment": [{"name": "A", "value": "2"}, {"name": "Z", "value": "1"}], "mount_points": [], "volumes_from": []},
            {"name": "b", "image": "nginx", "cpu": 0, "essential": true, "port_mappings": [{"container_port": 80}], "links": ["a"], "environment": []},
        ]});
        assert_eq!(normalize(Kind::TaskDefinition, &desired), normalize(Kind::TaskDefinition, &live));
    }

    #[test]
    fn container_health_check_platform_and_mounts_take_ecs_defaults() {
        let desired = json!({"family": "f", "network_mode": "awsvpc", "runtime_platform": {"cpu_architecture": "ARM64"},
            "volumes": [{"name": "b"}, {"name": "a"}],
            "container_definitions": [{"name": "a", "image": "x",
                "health_check": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3, "start_period": 0},
                "mount_points": [{"source_volume": "a", "container_path": "/a", "read_only": false}],
                "ulimits": [{"name": "nproc", "soft_limit": 1, "hard_limit": 2}, {"name": "nofile", "soft_limit": 3, "hard_limit": 3}]}]});
        let live = json!({"family": "f", "network_mode": "awsvpc",
            "runtime_platform": {"cpu_architecture": "ARM64", "operating_system_family": "LINUX"},
            "volumes": [{"name": "a"}, {"name": "b"}],
            "container_definitions": [{"name": "a", "image": "x", "essential": true,
                "health_check": {"command": ["CMD", "true"], "interval": 30, "timeout": 5, "retries": 3},
                "mount_points": [{"source_volume": "a", "container_path": "/a"}],
                "ulimits": [{"name": "nofile", "soft_limit": 3, "hard_limit": 3}, {"name": "nproc", "soft_limit": 1, "hard_limit": 2}]}]});
        assert_eq!(normalize(Kind::TaskDefinition, &desired), normalize(Kind::TaskDefinition, &live));
        let x86 = json!({"family": "f", "runtime_platform": {"cpu_architecture": "X86_64", "operating_system_family": "LINUX"}});
        assert_eq!(normalize(Kind::TaskDefinition, &x86), normalize(Kind::TaskDefinition, &json!({"family": "f"})));
        let longer = json!({"family": "f", "network_mode": "awsvpc", "container_definitions": [{"name": "a",
            "health_check": {"command": ["CMD", "true"], "interval": 60}}]});
        let shorter = json!({"family": "f", "network_mode": "awsvpc", "container_definitions": [{"name": "a",
            "health_check": {"command": ["CMD", "true"]}}]});
        assert_ne!(normalize(Kind::TaskDefinition, &longer), normalize(Kind::TaskDefinition, &shorter));
    }

    #[test]
    fn service_features_left_off_are_no_change() {
        let desired = json!({"name": "s", "deployment": {"minimum_healthy_percent": 100, "maximum_percent": 200}});
        let live = json!({"name": "s", "deployment": {"minimum_healthy_percent": 100, "maximum_percent": 200,
            "circuit_breaker": {"enable": false, "rollback": false}}, "health_check_grace_period_seconds": 0,
            "enable_execute_command": false});
        assert_eq!(normalize(Kind::EcsService, &desired), normalize(Kind::EcsService, &live));
        let on = json!({"name": "s", "deployment": {"minimum_healthy_percent": 100, "maximum_percent": 200,
            "circuit_breaker": {"enable": true, "rollback": true}}});
        assert_ne!(normalize(Kind::EcsService, &on), normalize(Kind::EcsService, &live));
    }

    #[test]
    fn awsvpc_host_port_defaults_to_container_port() {
        let a = json!({"network_mode": "awsvpc", "container_definitions": [{"name": "a", "port_mappings": [{"container_port": 80}]}]});
        let b = json!({"network_mode": "awsvpc", "container_definitions": [{"name": "a", "port_mappings": [{"container_port": 80, "host_port": 80}]}]});
        assert_eq!(normalize(Kind::TaskDefinition, &a), normalize(Kind::TaskDefinition, &b));
        let changed = json!({"network_mode": "awsvpc", "container_definitions": [{"name": "a", "image": "x:2", "port_mappings": [{"container_port": 80}]}]});
        assert_ne!(normalize(Kind::TaskDefinition, &a), normalize(Kind::TaskDefinition, &changed));
    }
}
