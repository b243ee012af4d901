//! The kinds of AWS resources a stack expands into, and what the engine must
//! know about each one without talking to AWS: one [`KindSpec`] per kind,
//! kept in [`Kind::spec`]. Adding a kind means one variant in `kinds!`, one
//! row in `Kind::spec`, and the provider's handler (see docs/contributing.md).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::normalize;
use crate::provider::Outputs;

/// Declares [`Kind`] and [`Kind::ALL`] from one list, so that the list of
/// every kind cannot miss one.
macro_rules! kinds {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// One kind of node in the resource graph.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $($(#[$doc])* $kind,)*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)*];
        }
    };
}

kinds! {
    /// Data: the VPC and subnets the stack runs in.
    Network,
    /// Data: a public SSM parameter (the ECS-optimized AMI id).
    SsmParameter,
    /// An EC2 key pair imported from a public key.
    KeyPair,
    /// A VPC security group.
    SecurityGroup,
    /// One ingress rule of a security group.
    SecurityGroupIngress,
    /// A customer managed IAM policy.
    IamPolicy,
    /// An IAM role with its trust policy.
    IamRole,
    /// A managed policy attached to a role.
    IamRolePolicyAttachment,
    /// An inline policy of a role.
    IamRoleInlinePolicy,
    /// An instance profile holding a role.
    IamInstanceProfile,
    /// An S3 bucket.
    S3Bucket,
    /// A bucket's public access block.
    S3PublicAccessBlock,
    /// A bucket's policy.
    S3BucketPolicy,
    /// An object berth writes into a bucket (an env file).
    S3Object,
    /// A Secrets Manager secret berth manages (its value, resource policy and tags).
    Secret,
    /// A CloudWatch Logs group.
    LogGroup,
    /// An EC2 launch template for container instances.
    LaunchTemplate,
    /// An EC2 auto scaling group of container instances.
    AutoscalingGroup,
    /// An ECS capacity provider backed by an auto scaling group.
    CapacityProvider,
    /// An ECS cluster.
    EcsCluster,
    /// The capacity providers associated with a cluster.
    ClusterCapacityProviders,
    /// An ECS task definition family (each change registers a revision).
    TaskDefinition,
    /// An ELB target group.
    TargetGroup,
    /// An application load balancer.
    LoadBalancer,
    /// A load balancer listener.
    Listener,
    /// A rule of a listener: requests matching its path or host go to its target group.
    ListenerRule,
    /// An ECS service.
    EcsService,
    /// The Application Auto Scaling of a service's desired count: its scalable target and target tracking policies.
    ServiceAutoscaling,
}

/// How a resource that must be replaced is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceOrder {
    /// Delete the old one, then create the new one (a name can be reused).
    DeleteFirst,
    /// Create the new one, move dependents to it, then delete the old one:
    /// for kinds AWS refuses to delete while something uses them. Two cannot
    /// share a name, so the new one takes a suffix when the old one holds the
    /// name, within AWS's limit on the name's length.
    CreateFirst {
        /// The longest name AWS accepts for the kind.
        name_limit: usize,
    },
}

/// What berth knows about one kind without talking to AWS.
#[derive(Debug)]
pub struct KindSpec {
    /// The snake_case name used in plans and docs.
    pub name: &'static str,
    /// Data sources are read, never created, updated or deleted.
    pub data: bool,
    /// Whether the AWS resource carries tags; untagged kinds are owned
    /// through their parent node.
    pub taggable: bool,
    /// Desired-state fields whose change AWS cannot apply in place. For the
    /// kinds that live inside another they also tell one item from another.
    pub replace_fields: &'static [&'static str],
    /// How a replacement is ordered.
    pub replace_order: ReplaceOrder,
    /// Outputs that take a new value when the node is updated in place, so
    /// dependents that use them see "(known after apply)" in a plan.
    pub renewed_by_update: &'static [&'static str],
    /// A note shown in the plan for an in-place update.
    pub update_note: Option<&'static str>,
    /// Order in which resources found only by their tags are deleted (lower
    /// first): dependents before what they depend on.
    pub teardown_rank: u8,
    /// Kinds without tags of their own that live inside a resource of this
    /// kind and are managed exactly: the provider lists the live ones
    /// ([`crate::provider::Provider::children`]) and any the file does not
    /// declare is deleted.
    pub children: &'static [Kind],
    /// Brings the fields of a desired or live state to canonical form
    /// (after nulls are dropped), so that AWS's spelling of a value is no change.
    pub normalize: fn(&mut Map<String, Value>),
    /// Outputs of a resource yet to be created that follow from its known
    /// desired fields, so a plan can show them instead of "(known after apply)".
    pub predicted_outputs: fn(&Map<String, Value>) -> Outputs,
}

/// A spec's defaults: a managed, tagged resource named by `name`, replaced
/// by deleting it first, normalized as written.
const BASE: KindSpec = KindSpec {
    name: "",
    data: false,
    taggable: true,
    replace_fields: &["name"],
    replace_order: ReplaceOrder::DeleteFirst,
    renewed_by_update: &[],
    update_note: None,
    teardown_rank: 10,
    children: &[],
    normalize: normalize::as_written,
    predicted_outputs: predict_name,
};

/// Untagged parts of another resource.
const PART: KindSpec = KindSpec { taggable: false, predicted_outputs: predict_nothing, ..BASE };

fn predict_nothing(_: &Map<String, Value>) -> Outputs {
    Outputs::new()
}

fn predict_name(known: &Map<String, Value>) -> Outputs {
    known.get("name").map(|name| Outputs::from([("name".to_owned(), name.clone())])).unwrap_or_default()
}

fn predict_bucket(known: &Map<String, Value>) -> Outputs {
    let mut outputs = predict_name(known);
    if let Some(Value::String(name)) = known.get("name") {
        outputs.insert("arn".into(), Value::from(format!("arn:aws:s3:::{name}")));
    }
    outputs
}

fn predict_family(known: &Map<String, Value>) -> Outputs {
    known.get("family").map(|family| Outputs::from([("family".to_owned(), family.clone())])).unwrap_or_default()
}

impl Kind {
    /// Everything berth knows about this kind: one row per kind.
    pub fn spec(self) -> &'static KindSpec {
        use Kind::*;
        match self {
            Network => &KindSpec { name: "network", data: true, replace_fields: &[], teardown_rank: 18, ..PART },
            SsmParameter => {
                &KindSpec { name: "ssm_parameter", data: true, replace_fields: &[], teardown_rank: 18, ..PART }
            }
            KeyPair => &KindSpec { name: "key_pair", replace_fields: &["name", "public_key"], ..BASE },
            SecurityGroup => &KindSpec {
                name: "security_group",
                replace_fields: &["name", "description", "vpc_id"],
                children: &[SecurityGroupIngress],
                ..BASE
            },
            SecurityGroupIngress => &KindSpec {
                name: "security_group_ingress",
                replace_fields: &[
                    "group_id",
                    "protocol",
                    "from_port",
                    "to_port",
                    "cidr",
                    "source_group_id",
                    "cidr_ipv6",
                    "prefix_list_id",
                ],
                teardown_rank: 9,
                normalize: normalize::ingress_rule,
                ..PART
            },
            IamPolicy => &KindSpec {
                name: "iam_policy",
                teardown_rank: 17,
                // Attachments of the file's policies to roles the file does not declare.
                children: &[IamRolePolicyAttachment],
                normalize: normalize::policy_document,
                ..BASE
            },
            IamRole => &KindSpec {
                name: "iam_role",
                teardown_rank: 16,
                children: &[IamRolePolicyAttachment, IamRoleInlinePolicy],
                normalize: normalize::trust_policy,
                ..BASE
            },
            IamRolePolicyAttachment => &KindSpec {
                name: "iam_role_policy_attachment",
                replace_fields: &["role", "policy_arn"],
                teardown_rank: 15,
                ..PART
            },
            IamRoleInlinePolicy => &KindSpec {
                name: "iam_role_inline_policy",
                replace_fields: &["role", "name"],
                teardown_rank: 15,
                normalize: normalize::policy_document,
                ..PART
            },
            IamInstanceProfile => &KindSpec { name: "iam_instance_profile", teardown_rank: 14, ..BASE },
            S3Bucket => &KindSpec {
                name: "s3_bucket",
                teardown_rank: 13,
                children: &[S3PublicAccessBlock, S3BucketPolicy, S3Object],
                predicted_outputs: predict_bucket,
                ..BASE
            },
            S3PublicAccessBlock => {
                &KindSpec { name: "s3_public_access_block", replace_fields: &["bucket"], teardown_rank: 12, ..PART }
            }
            S3BucketPolicy => &KindSpec {
                name: "s3_bucket_policy",
                replace_fields: &["bucket"],
                teardown_rank: 12,
                normalize: normalize::bucket_policy,
                ..PART
            },
            S3Object => &KindSpec { name: "s3_object", replace_fields: &["bucket", "key"], teardown_rank: 11, ..PART },
            Secret => &KindSpec {
                name: "secret",
                // After the task definitions that read it, before the roles its policy admits.
                teardown_rank: 11,
                normalize: crate::expand::sections::secrets::normalize_secret,
                ..BASE
            },
            LogGroup => &KindSpec { name: "log_group", ..BASE },
            LaunchTemplate => &KindSpec {
                name: "launch_template",
                renewed_by_update: &["latest_version"],
                update_note: Some("creates a new launch template version and makes it the default"),
                teardown_rank: 5,
                normalize: normalize::launch_template,
                ..BASE
            },
            AutoscalingGroup => &KindSpec {
                name: "autoscaling_group",
                teardown_rank: 4,
                normalize: normalize::autoscaling_group,
                ..BASE
            },
            CapacityProvider => &KindSpec {
                name: "capacity_provider",
                replace_fields: &["name", "autoscaling_group_arn"],
                teardown_rank: 3,
                ..BASE
            },
            EcsCluster => {
                &KindSpec { name: "ecs_cluster", teardown_rank: 6, children: &[ClusterCapacityProviders], ..BASE }
            }
            ClusterCapacityProviders => &KindSpec {
                name: "cluster_capacity_providers",
                replace_fields: &["cluster"],
                teardown_rank: 2,
                normalize: normalize::cluster_capacity_providers,
                ..PART
            },
            TaskDefinition => &KindSpec {
                name: "task_definition",
                replace_fields: &["family"],
                renewed_by_update: &["arn", "revision"],
                update_note: Some(
                    "task definitions are immutable: registers a new revision, and services using it move to it",
                ),
                teardown_rank: 6,
                normalize: normalize::task_definition,
                predicted_outputs: predict_family,
                ..BASE
            },
            TargetGroup => &KindSpec {
                name: "target_group",
                replace_fields: &["name", "protocol", "port", "vpc_id", "target_type"],
                // A listener or service forwarding to it makes AWS refuse the delete (ResourceInUse).
                replace_order: ReplaceOrder::CreateFirst { name_limit: 32 },
                teardown_rank: 8,
                ..BASE
            },
            LoadBalancer => &KindSpec {
                name: "load_balancer",
                replace_fields: &["name", "scheme", "type"],
                teardown_rank: 7,
                normalize: normalize::load_balancer,
                ..BASE
            },
            Listener => &KindSpec {
                name: "listener",
                replace_fields: &["load_balancer_arn", "port"],
                teardown_rank: 1,
                children: &[ListenerRule],
                ..BASE
            },
            ListenerRule => &KindSpec {
                name: "listener_rule",
                replace_fields: &["listener_arn", "priority"],
                teardown_rank: 1,
                normalize: crate::expand::sections::load_balancers::normalize_listener_rule,
                ..PART
            },
            EcsService => &KindSpec {
                name: "ecs_service",
                replace_fields: &["name", "cluster", "launch_type"],
                teardown_rank: 0,
                children: &[ServiceAutoscaling],
                normalize: normalize::ecs_service,
                ..BASE
            },
            ServiceAutoscaling => &KindSpec {
                name: "service_autoscaling",
                replace_fields: &["resource_id"],
                teardown_rank: 0,
                normalize: crate::expand::sections::services::normalize_service_autoscaling,
                ..PART
            },
        }
    }

    /// Data sources are read, never created, updated or deleted.
    pub fn is_data(self) -> bool {
        self.spec().data
    }

    /// Whether the AWS resource carries tags; untagged kinds are owned through
    /// their parent node.
    pub fn taggable(self) -> bool {
        self.spec().taggable
    }

    /// Desired-state fields whose change AWS cannot apply in place.
    pub fn replace_fields(self) -> &'static [&'static str] {
        self.spec().replace_fields
    }

    /// Kinds managed exactly inside a resource of this kind ([`KindSpec::children`]).
    pub fn child_kinds(self) -> &'static [Kind] {
        self.spec().children
    }

    /// The fields that tell one child of this kind from another: two states
    /// with the same values here are the same AWS item. For the kinds that
    /// live inside another these are the fields a change of which replaces it.
    pub fn identity_fields(self) -> &'static [&'static str] {
        self.spec().replace_fields
    }

    /// Outputs that take a new value when the node is updated in place.
    pub fn outputs_renewed_by_update(self) -> &'static [&'static str] {
        self.spec().renewed_by_update
    }

    /// A note shown in the plan for an in-place update of this kind.
    pub fn update_note(self) -> Option<&'static str> {
        self.spec().update_note
    }

    /// Order in which resources found only by their tags are deleted (lower first).
    pub fn teardown_rank(self) -> u8 {
        self.spec().teardown_rank
    }

    /// The snake_case name used in plans and docs.
    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    /// Whether a replacement is created before the old one is deleted.
    pub fn creates_first(self) -> bool {
        matches!(self.spec().replace_order, ReplaceOrder::CreateFirst { .. })
    }

    /// Whether a live resource named `live_name` is the one `desired` names:
    /// the same name, or for a kind replaced create-first the name its
    /// replacement takes ([`Kind::replacement`]).
    pub fn answers_to(self, desired: &Value, live_name: &str) -> bool {
        let Some(name) = desired.get("name").and_then(Value::as_str) else { return false };
        live_name == name || self.creates_first() && self.replacement(desired, Some(name))["name"] == live_name
    }

    /// The desired state of the resource that replaces a live one of this
    /// kind named `live_name`: for a kind replaced create-first, the name
    /// takes a suffix made from the new state when the old one still holds
    /// it (so two states never get one name), and the suffix goes again at
    /// the next replacement.
    pub fn replacement(self, desired: &Value, live_name: Option<&str>) -> Value {
        use sha2::{Digest, Sha256};
        let ReplaceOrder::CreateFirst { name_limit } = self.spec().replace_order else { return desired.clone() };
        let Some(name) = desired.get("name").and_then(Value::as_str) else { return desired.clone() };
        if live_name != Some(name) {
            return desired.clone();
        }
        let identity: Vec<&Value> = self
            .replace_fields()
            .iter()
            .filter(|f| **f != "name")
            .map(|f| desired.get(*f).unwrap_or(&Value::Null))
            .collect();
        let digest = Sha256::digest(serde_json::to_vec(&identity).expect("JSON values serialize"));
        let suffix = format!("-{:02x}{:02x}", digest[0], digest[1]);
        let keep = name.char_indices().map(|(i, _)| i).chain([name.len()]).rfind(|&i| i + suffix.len() <= name_limit);
        let mut replacement = desired.clone();
        replacement["name"] = Value::from(format!("{}{suffix}", &name[..keep.unwrap_or(0)].trim_end_matches('-')));
        replacement
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_name_matching_its_serde_name() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::from(kind.as_str()));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
    }

    #[test]
    fn children_are_untagged_parts_and_data_is_untagged() {
        for kind in Kind::ALL {
            for child in kind.child_kinds() {
                assert!(!child.taggable(), "{child} is listed as a child of {kind} but carries tags");
            }
            if kind.is_data() {
                assert!(!kind.taggable() && kind.replace_fields().is_empty(), "{kind}");
            }
        }
    }

    #[test]
    fn a_create_first_replacement_never_takes_the_name_the_old_one_holds() {
        let desired = serde_json::json!({ "name": "web", "port": 8080, "protocol": "HTTP" });
        let new = Kind::TargetGroup.replacement(&desired, Some("web"));
        let new_name = new["name"].as_str().unwrap();
        assert!(new_name.starts_with("web-") && new_name.len() == "web-".len() + 4, "{new_name}");
        assert_eq!(new["port"], 8080);
        // The next replacement takes the plain name back.
        assert_eq!(Kind::TargetGroup.replacement(&desired, Some(new_name)), desired);
        // Another state, another suffix; within the name limit.
        let other = Kind::TargetGroup.replacement(&serde_json::json!({ "name": "web", "port": 81 }), Some("web"));
        assert_ne!(other["name"], new["name"]);
        let long = serde_json::json!({ "name": "a".repeat(32), "port": 80 });
        assert_eq!(Kind::TargetGroup.replacement(&long, Some(&"a".repeat(32)))["name"].as_str().unwrap().len(), 32);
        assert!(Kind::TargetGroup.answers_to(&desired, "web") && Kind::TargetGroup.answers_to(&desired, new_name));
        assert!(!Kind::TargetGroup.answers_to(&desired, other["name"].as_str().unwrap()));
        // Kinds replaced delete-first keep their name.
        assert_eq!(Kind::LogGroup.replacement(&desired, Some("web")), desired);
    }

    #[test]
    fn teardown_removes_dependents_before_what_they_use() {
        use Kind::*;
        for (first, then) in [
            (EcsService, Listener),
            (Listener, TargetGroup),
            (CapacityProvider, AutoscalingGroup),
            (AutoscalingGroup, LaunchTemplate),
            (S3Object, S3Bucket),
            (IamRolePolicyAttachment, IamRole),
            (IamRole, IamPolicy),
        ] {
            assert!(first.teardown_rank() < then.teardown_rank(), "{first} before {then}");
        }
    }
}
