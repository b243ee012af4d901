//! BRT039-BRT042, BRT060: the checks that read AWS. They run on the expanded
//! stack (real account id, resolved names) before any mutating call: a task
//! larger than every container instance the cluster has registered, an
//! environment file or a secret that does not exist, a load balancer whose
//! subnets span fewer than two availability zones, an HTTPS listener's
//! certificate that ACM does not hold as issued. Secret values are never read.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde_json::Value;

use super::codes::{self, Code};
use crate::diag::Diagnostic;
use crate::expand::{Expanded, NETWORK};
use crate::graph::{Node, REF_PREFIX};
use crate::interpolate::{pieces, Piece};
use crate::kind::Kind;
use crate::load::Source;
use crate::model::Stack;
use crate::provider::ProviderResult;

/// What one registered container instance offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The container instance.
    pub instance: String,
    /// Memory it registered with ECS, in MiB.
    pub memory_mib: i64,
    /// CPU units it registered with ECS.
    pub cpu_units: i64,
}

/// The read-only facts the live checks need from the cloud.
#[async_trait]
pub trait Facts: Send + Sync {
    /// Registered resources of the cluster's ACTIVE container instances
    /// (empty when the cluster does not exist or has none).
    async fn registered_instances(&self, cluster: &str) -> ProviderResult<Vec<Registered>>;
    /// Whether `s3://bucket/key` exists (HeadObject).
    async fn object_exists(&self, bucket: &str, key: &str) -> ProviderResult<bool>;
    /// Whether the Secrets Manager secret exists (DescribeSecret, never its value).
    async fn secret_exists(&self, id: &str) -> ProviderResult<bool>;
    /// The availability zones of the stack's subnets (`network:` desired state).
    async fn subnet_zones(&self, network: &Value) -> ProviderResult<Vec<String>>;
    /// Keys of the bucket's objects (the first thousand), empty when it does not exist.
    async fn object_keys(&self, bucket: &str) -> ProviderResult<Vec<String>>;
    /// The status of an ACM certificate (`ISSUED`, `PENDING_VALIDATION`, ...), `None` when ACM does not hold it.
    async fn certificate_status(&self, arn: &str) -> ProviderResult<Option<String>>;
    /// The document of a managed policy's default version, `None` when IAM does not hold it.
    async fn policy_document(&self, arn: &str) -> ProviderResult<Option<Value>>;
}

/// The documents of the managed policies the file's roles attach that berth
/// cannot know offline (AWS managed ones but the two it knows, customer
/// managed ARNs), by ARN, read from IAM so the access checks can be certain.
/// A policy IAM does not hold, or that cannot be read, is left out (the
/// checks then warn, naming it).
pub async fn managed_policy_documents(stack: &Stack, facts: &dyn Facts) -> BTreeMap<String, Value> {
    let unknown: BTreeSet<&String> = stack
        .iam
        .roles
        .values()
        .flat_map(|role| &role.managed_policies)
        .filter(|arn| super::policy::aws_managed(arn).is_none())
        .collect();
    let mut documents = BTreeMap::new();
    for arn in unknown {
        if let Ok(Some(document)) = facts.policy_document(arn).await {
            documents.insert(arn.clone(), document);
        }
    }
    documents
}

/// Buckets of the stack that hold objects berth does not manage, with those
/// keys: destroying them would delete someone's data.
/// `also_managed` names objects berth wrote that the file no longer declares
/// (as `(bucket, key)`): the plan deletes those itself.
pub async fn unmanaged_objects(
    expanded: &Expanded,
    also_managed: &[(&str, &str)],
    facts: &dyn Facts,
) -> ProviderResult<Vec<(String, Vec<String>)>> {
    let graph = &expanded.graph;
    let mut found = Vec::new();
    for bucket in graph.nodes().iter().filter(|n| n.kind == Kind::S3Bucket) {
        let Some(name) = bucket.desired["name"].as_str() else { continue };
        let managed: Vec<&str> = graph
            .nodes()
            .iter()
            .filter(|n| n.kind == Kind::S3Object && n.parent.as_deref() == Some(bucket.address.as_str()))
            .filter_map(|n| n.desired["key"].as_str())
            .chain(also_managed.iter().filter(|(b, _)| *b == name).map(|(_, k)| *k))
            .collect();
        let others: Vec<String> =
            facts.object_keys(name).await?.into_iter().filter(|k| !managed.contains(&k.as_str())).collect();
        if !others.is_empty() {
            found.push((name.to_owned(), others));
        }
    }
    Ok(found)
}

/// Runs the checks that need AWS.
pub async fn live_checks(expanded: &Expanded, source: &Source, facts: &dyn Facts) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let graph = &expanded.graph;
    // A cluster's instances are read once, however many services it runs.
    let mut registered: BTreeMap<&str, Vec<Registered>> = BTreeMap::new();
    for service in graph.nodes().iter().filter(|n| n.kind == Kind::EcsService) {
        let task = service.desired["task_definition"].as_str().and_then(|t| referenced_node(expanded, t));
        let (Some(task), Some(cluster)) = (task, service.desired["cluster"].as_str()) else { continue };
        if !registered.contains_key(cluster) {
            match facts.registered_instances(cluster).await {
                Ok(instances) => {
                    registered.insert(cluster, instances);
                }
                Err(e) => {
                    out.push(report(source, task, &[], codes::REGISTERED_MEMORY_TOO_SMALL, unreadable(e.message)));
                    continue;
                }
            }
        }
        fit_registered(task, cluster, &registered[cluster], source, &mut out);
    }
    let balancers: Vec<&Node> = graph.nodes().iter().filter(|n| n.kind == Kind::LoadBalancer).collect();
    if let (Some(network), false) = (graph.get(NETWORK), balancers.is_empty()) {
        match facts.subnet_zones(&network.desired).await {
            Ok(mut zones) => {
                zones.sort();
                zones.dedup();
                if zones.len() < 2 {
                    for balancer in &balancers {
                        let name = balancer.desired["name"].as_str().unwrap_or_default();
                        let message = format!(
                            "load balancer `{name}` needs subnets in at least two availability zones; the stack's subnets are in {}",
                            if zones.is_empty() { "none".to_owned() } else { zones.join(", ") }
                        );
                        let help = "list subnets of two or more zones under `network.subnets`".to_owned();
                        out.push(report(source, balancer, &[], codes::LOAD_BALANCER_ONE_ZONE, (message, help)));
                    }
                }
            }
            Err(e) => out.push(report(source, balancers[0], &[], codes::LOAD_BALANCER_ONE_ZONE, unreadable(e.message))),
        }
    }
    for task in graph.nodes().iter().filter(|n| n.kind == Kind::TaskDefinition) {
        if let Err(e) = external_files_and_secrets(expanded, task, facts, source, &mut out).await {
            out.push(report(source, task, &[], codes::ENV_FILE_MISSING, unreadable(e.message)));
        }
    }
    for listener in graph.nodes().iter().filter(|n| n.kind == Kind::Listener) {
        let Some(arn) = listener.desired["certificate_arn"].as_str() else { continue };
        let problem = match facts.certificate_status(arn).await {
            Ok(Some(status)) if status == "ISSUED" => continue,
            Ok(Some(status)) => (
                format!("certificate {arn} is {status} in ACM, not ISSUED, so the HTTPS listener cannot use it"),
                "finish its validation (DNS or email) in ACM, or name an issued certificate".to_owned(),
            ),
            Ok(None) => (
                format!("certificate {arn} does not exist in ACM in this account and region"),
                "request or import it in ACM (in the stack's region) and use its ARN".to_owned(),
            ),
            Err(e) => unreadable(e.message),
        };
        out.push(report(source, listener, &["certificate"], codes::CERTIFICATE_NOT_ISSUED, problem));
    }
    out
}

fn unreadable(message: String) -> (String, String) {
    let denied = ["AccessDenied", "not authorized", "UnauthorizedOperation"].iter().any(|m| message.contains(m));
    let help = if denied {
        "give the caller the read permission AWS names above (the pre-flight checks only read)"
    } else {
        "the check could not run for the reason above; run it again once that is fixed"
    };
    (format!("berth could not read what this check needs: {message}"), help.into())
}

/// The node a `${ref:ADDRESS#attr}` string points at.
fn referenced_node<'e>(expanded: &'e Expanded, value: &str) -> Option<&'e Node> {
    let Some(Piece::Expr(inner)) = pieces(value, REF_PREFIX).next() else { return None };
    let (address, _) = inner.split_once('#')?;
    expanded.graph.get(address)
}

fn report(source: &Source, node: &Node, extra: &[&str], code: Code, (message, help): (String, String)) -> Diagnostic {
    let mut path: Vec<&str> = node.origin.iter().map(String::as_str).collect();
    path.extend_from_slice(extra);
    source.diagnostic(code.severity, Some(code.id), &path, message, Some(help))
}

/// Memory the task reserves: the task's, else the containers' reservations.
fn task_memory(task: &Value) -> i64 {
    if let Some(memory) = task["memory"].as_str().and_then(|m| m.parse().ok()) {
        return memory;
    }
    let containers = task["container_definitions"].as_array().map(Vec::as_slice).unwrap_or_default();
    containers.iter().map(|c| c["memory_reservation"].as_i64().or(c["memory"].as_i64()).unwrap_or(0)).sum()
}

fn fit_registered(task: &Node, cluster: &str, instances: &[Registered], source: &Source, out: &mut Vec<Diagnostic>) {
    let memory = task_memory(&task.desired);
    let Some(largest) = instances.iter().max_by_key(|i| i.memory_mib) else { return };
    if memory > largest.memory_mib {
        let family = task.desired["family"].as_str().unwrap_or_default();
        let message = format!(
            "task `{family}` needs {memory} MiB but the largest container instance of cluster `{cluster}` ({}) registered {} MiB ({memory} > {}), so it can never be placed",
            largest.instance, largest.memory_mib, largest.memory_mib
        );
        let help =
            format!("set the task's memory to at most {} MiB, or use a larger instance type", largest.memory_mib);
        out.push(report(source, task, &["memory"], codes::REGISTERED_MEMORY_TOO_SMALL, (message, help)));
    }
}

/// Env files and secrets the stack does not manage must exist already.
async fn external_files_and_secrets(
    expanded: &Expanded,
    task: &Node,
    facts: &dyn Facts,
    source: &Source,
    out: &mut Vec<Diagnostic>,
) -> ProviderResult<()> {
    let containers = task.desired["container_definitions"].as_array().map(Vec::as_slice).unwrap_or_default();
    for container in containers {
        let name = container["name"].as_str().unwrap_or_default();
        let files = container["environment_files"].as_array().map(Vec::as_slice).unwrap_or_default();
        for file in files.iter().filter_map(|f| f["value"].as_str()) {
            let Some((bucket, key)) = external_object(expanded, task, file) else { continue };
            if !facts.object_exists(&bucket, &key).await? {
                let message = format!("environment file s3://{bucket}/{key} of container `{name}` does not exist, so the task would fail to start");
                let help =
                    "upload it, fix the path, or declare it under the bucket's `objects:` so berth manages it".into();
                let path = ["containers", name, "environment_files"];
                out.push(report(source, task, &path, codes::ENV_FILE_MISSING, (message, help)));
            }
        }
        let secrets = container["secrets"].as_array().map(Vec::as_slice).unwrap_or_default();
        for secret in secrets {
            let Some(arn) = secret["value_from"].as_str().filter(|v| v.contains(":secretsmanager:")) else { continue };
            // `arn:...:secret:NAME-abc123:json-key::` names a key of a JSON secret; the secret is the first 7 parts.
            let id = arn.split(':').take(7).collect::<Vec<_>>().join(":");
            if !facts.secret_exists(&id).await? {
                let variable = secret["name"].as_str().unwrap_or_default();
                let message = format!(
                    "secret `{id}` for variable `{variable}` of container `{name}` does not exist in Secrets Manager"
                );
                let help = "create the secret first, or fix its ARN".into();
                let path = ["containers", name, "secrets", variable];
                out.push(report(source, task, &path, codes::SECRET_MISSING, (message, help)));
            }
        }
    }
    Ok(())
}

/// The bucket and key of an env file berth does not upload itself, or `None`
/// when the stack manages the object.
fn external_object(expanded: &Expanded, task: &Node, value: &str) -> Option<(String, String)> {
    if let Some(rest) = value.strip_prefix("arn:aws:s3:::") {
        let (bucket, key) = rest.split_once('/')?;
        return Some((bucket.to_owned(), key.to_owned()));
    }
    // `${ref:buckets.KEY#arn}/object`: managed when the task depends on that object's node.
    let (reference, key) = value.split_once("}/")?;
    let bucket_address = reference.strip_prefix(REF_PREFIX)?.split('#').next()?;
    let object_address = format!("{bucket_address}.objects[{key}]");
    if task.extra_dependencies.contains(&object_address) {
        return None;
    }
    let bucket = expanded.graph.get(bucket_address)?.desired["name"].as_str()?.to_owned();
    Some((bucket, key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::{expand, ExpandOptions};
    use crate::load::load_str;
    use std::path::Path;

    struct FakeFacts {
        instances: Vec<Registered>,
        /// How many times the instances were read.
        instance_reads: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl Facts for FakeFacts {
        async fn registered_instances(&self, _cluster: &str) -> ProviderResult<Vec<Registered>> {
            self.instance_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.instances.clone())
        }
        async fn object_exists(&self, _bucket: &str, key: &str) -> ProviderResult<bool> {
            Ok(key != "missing.env")
        }
        async fn secret_exists(&self, id: &str) -> ProviderResult<bool> {
            Ok(!id.ends_with("gone"))
        }
        async fn object_keys(&self, _bucket: &str) -> ProviderResult<Vec<String>> {
            Ok(vec!["prod.env".into(), "someone-elses.csv".into()])
        }
        async fn policy_document(&self, _arn: &str) -> ProviderResult<Option<Value>> {
            Ok(None)
        }
        async fn certificate_status(&self, arn: &str) -> ProviderResult<Option<String>> {
            Ok(match arn.rsplit('/').next() {
                Some("issued") => Some("ISSUED".into()),
                Some("pending") => Some("PENDING_VALIDATION".into()),
                _ => None,
            })
        }
        async fn subnet_zones(&self, network: &Value) -> ProviderResult<Vec<String>> {
            Ok(match network["subnets"].as_array() {
                Some(_) => vec!["ap-northeast-2a".into(), "ap-northeast-2a".into()],
                None => vec!["ap-northeast-2a".into(), "ap-northeast-2c".into()],
            })
        }
    }

    impl FakeFacts {
        fn new(instances: Vec<Registered>) -> FakeFacts {
            FakeFacts { instances, instance_reads: Default::default() }
        }
    }

    async fn run(edit: impl Fn(String) -> String, instances: Vec<Registered>) -> Vec<Diagnostic> {
        run_with(edit, &FakeFacts::new(instances)).await
    }

    async fn run_with(edit: impl Fn(String) -> String, facts: &FakeFacts) -> Vec<Diagnostic> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml");
        let text = edit(std::fs::read_to_string(&path).unwrap());
        let loaded = load_str(&path, &text).unwrap();
        let options = ExpandOptions {
            account_id: "123456789012".into(),
            region: "ap-northeast-2".into(),
            var_overrides: Default::default(),
            ..Default::default()
        };
        let expanded = expand(&loaded, &options).unwrap();
        live_checks(&expanded, &loaded.source, facts).await
    }

    #[tokio::test]
    async fn a_clusters_instances_are_read_once_for_all_its_services() {
        let second = "\n  second-service:\n    cluster: ecs-sample\n    task_definition: example-app\n    desired_count: 1\n    deployment: { minimum_healthy_percent: 0, maximum_percent: 100 }\n";
        let facts = FakeFacts::new(nano(400));
        let found = run_with(|t| t + second, &facts).await;
        assert_eq!(facts.instance_reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Both services' task is judged against those instances.
        assert!(found.iter().all(|d| d.code.as_deref() == Some("BRT039")) && !found.is_empty(), "{found:?}");
    }

    fn nano(memory_mib: i64) -> Vec<Registered> {
        vec![Registered { instance: "i-0abc".into(), memory_mib, cpu_units: 1024 }]
    }

    #[tokio::test]
    async fn the_reference_stack_passes() {
        assert!(run(|t| t, nano(466)).await.is_empty());
    }

    #[tokio::test]
    async fn a_task_larger_than_the_registered_instance_is_an_error() {
        let found = run(|t| t.replace("memory: 450", "memory: 500"), nano(466)).await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code.as_deref(), Some("BRT039"));
        assert!(found[0].message.contains("500 > 466"), "{}", found[0].message);
        assert!(found[0].line > 0);
    }

    #[tokio::test]
    async fn an_https_listener_needs_an_issued_certificate() {
        let with = |certificate: &str| {
            let listener = format!("- {{ port: 443, protocol: HTTPS, certificate: \"arn:aws:acm:ap-northeast-2:123456789012:certificate/{certificate}\", forward: ecs-sample-tg }}");
            move |t: String| t.replace("- { port: 80, protocol: HTTP, forward: ecs-sample-tg }", &listener)
        };
        assert!(run(with("issued"), vec![]).await.is_empty());
        for (certificate, words) in [("pending", "is PENDING_VALIDATION in ACM"), ("gone", "does not exist in ACM")] {
            let found = run(with(certificate), vec![]).await;
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].code.as_deref(), Some("BRT060"));
            assert!(found[0].message.contains(words), "{}", found[0].message);
            assert!(found[0].line > 0);
        }
    }

    #[tokio::test]
    async fn missing_external_env_files_and_secrets_are_errors() {
        let found = run(
            |t| {
                t.replace("environment_files: [ecs-sample-env/prod.env]", "environment_files: [ecs-sample-env/prod.env, ecs-sample-env/missing.env]")
                    .replace("        logs: /ecs/example-app\n      reverse", "        logs: /ecs/example-app\n        secrets: { DB: \"arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:db-gone\" }\n      reverse")
            },
            vec![],
        )
        .await;
        let codes: Vec<&str> = found.iter().filter_map(|d| d.code.as_deref()).collect();
        assert_eq!(codes, ["BRT040", "BRT041"], "{found:?}");
        assert!(found[0].message.contains("missing.env"));
    }

    #[tokio::test]
    async fn objects_berth_does_not_manage_are_found() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../stacks/ecs-sample/stack.yaml");
        let loaded = crate::load::load_file(&path).unwrap();
        let options = ExpandOptions {
            account_id: "123456789012".into(),
            region: "ap-northeast-2".into(),
            var_overrides: Default::default(),
            ..Default::default()
        };
        let expanded = expand(&loaded, &options).unwrap();
        let found = unmanaged_objects(&expanded, &[], &FakeFacts::new(vec![])).await.unwrap();
        assert_eq!(found, [("ecs-sample-env-123456789012".to_owned(), vec!["someone-elses.csv".to_owned()])]);
    }

    #[tokio::test]
    async fn a_load_balancer_in_one_zone_is_an_error() {
        let found = run(|t| t.replace("subnets: default ", "subnets: [subnet-a1, subnet-a2] "), vec![]).await;
        let codes: Vec<&str> = found.iter().filter_map(|d| d.code.as_deref()).collect();
        assert_eq!(codes, ["BRT042"], "{found:?}");
        assert!(found[0].message.contains("ap-northeast-2a"), "{}", found[0].message);
    }
}
