//! The kinds of AWS resources a stack expands into, and what the engine must
//! know about each one without talking to AWS.

use serde::{Deserialize, Serialize};

/// One kind of node in the resource graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Data: the VPC and subnets the stack runs in.
    Network,
    /// Data: a public SSM parameter (the ECS-optimized AMI id).
    SsmParameter,
    KeyPair,
    SecurityGroup,
    SecurityGroupIngress,
    IamPolicy,
    IamRole,
    IamRolePolicyAttachment,
    IamRoleInlinePolicy,
    IamInstanceProfile,
    S3Bucket,
    S3PublicAccessBlock,
    S3BucketPolicy,
    S3Object,
    LogGroup,
    LaunchTemplate,
    AutoscalingGroup,
    CapacityProvider,
    EcsCluster,
    ClusterCapacityProviders,
    TaskDefinition,
    TargetGroup,
    LoadBalancer,
    Listener,
    EcsService,
}

impl Kind {
    /// Data sources are read, never created, updated or deleted.
    pub fn is_data(self) -> bool {
        matches!(self, Kind::Network | Kind::SsmParameter)
    }

    /// Whether the AWS resource carries tags; untagged kinds are owned through
    /// their parent node.
    pub fn taggable(self) -> bool {
        use Kind::*;
        matches!(
            self,
            KeyPair
                | SecurityGroup
                | IamPolicy
                | IamRole
                | IamInstanceProfile
                | S3Bucket
                | LogGroup
                | LaunchTemplate
                | AutoscalingGroup
                | CapacityProvider
                | EcsCluster
                | TaskDefinition
                | TargetGroup
                | LoadBalancer
                | Listener
                | EcsService
        )
    }

    /// Desired-state fields whose change AWS cannot apply in place.
    pub fn replace_fields(self) -> &'static [&'static str] {
        use Kind::*;
        match self {
            KeyPair => &["name", "public_key"],
            SecurityGroup => &["name", "description", "vpc_id"],
            SecurityGroupIngress => &[
                "group_id",
                "protocol",
                "from_port",
                "to_port",
                "cidr",
                "source_group_id",
                "cidr_ipv6",
                "prefix_list_id",
            ],
            IamRolePolicyAttachment => &["role", "policy_arn"],
            IamRoleInlinePolicy => &["role", "name"],
            IamInstanceProfile => &["name"],
            S3Bucket => &["name"],
            S3BucketPolicy | S3PublicAccessBlock => &["bucket"],
            S3Object => &["bucket", "key"],
            LogGroup => &["name"],
            LaunchTemplate => &["name"],
            AutoscalingGroup => &["name"],
            CapacityProvider => &["name", "autoscaling_group_arn"],
            EcsCluster => &["name"],
            ClusterCapacityProviders => &["cluster"],
            TargetGroup => &["name", "protocol", "port", "vpc_id", "target_type"],
            LoadBalancer => &["name", "scheme", "type"],
            Listener => &["load_balancer_arn", "port"],
            EcsService => &["name", "cluster", "launch_type"],
            IamPolicy | IamRole => &["name"],
            TaskDefinition => &["family"],
            Network | SsmParameter => &[],
        }
    }

    /// Kinds without tags of their own that live inside a resource of this
    /// kind and are managed exactly: the provider lists the live ones
    /// ([`crate::provider::Provider::children`]) and any the file does not
    /// declare is deleted.
    pub fn child_kinds(self) -> &'static [Kind] {
        use Kind::*;
        match self {
            SecurityGroup => &[SecurityGroupIngress],
            IamRole => &[IamRolePolicyAttachment, IamRoleInlinePolicy],
            // Attachments of the file's policies to roles the file does not declare.
            IamPolicy => &[IamRolePolicyAttachment],
            S3Bucket => &[S3PublicAccessBlock, S3BucketPolicy, S3Object],
            EcsCluster => &[ClusterCapacityProviders],
            _ => &[],
        }
    }

    /// The fields that tell one child of this kind from another: two states
    /// with the same values here are the same AWS item. For the kinds that
    /// live inside another these are the fields a change of which replaces it.
    pub fn identity_fields(self) -> &'static [&'static str] {
        self.replace_fields()
    }

    /// Outputs that take a new value when the node is updated in place, so
    /// dependents that use them see "(known after apply)" in a plan.
    pub fn outputs_renewed_by_update(self) -> &'static [&'static str] {
        match self {
            Kind::TaskDefinition => &["arn", "revision"],
            Kind::LaunchTemplate => &["latest_version"],
            _ => &[],
        }
    }

    /// A note shown in the plan for an in-place update of this kind.
    pub fn update_note(self) -> Option<&'static str> {
        match self {
            Kind::TaskDefinition => {
                Some("task definitions are immutable: registers a new revision, and services using it move to it")
            }
            Kind::LaunchTemplate => Some("creates a new launch template version and makes it the default"),
            _ => None,
        }
    }

    /// Order in which resources found only by their tags are deleted (lower
    /// first): dependents before what they depend on.
    pub fn teardown_rank(self) -> u8 {
        use Kind::*;
        match self {
            EcsService => 0,
            Listener => 1,
            ClusterCapacityProviders => 2,
            CapacityProvider => 3,
            AutoscalingGroup => 4,
            LaunchTemplate => 5,
            EcsCluster | TaskDefinition => 6,
            LoadBalancer => 7,
            TargetGroup => 8,
            SecurityGroupIngress => 9,
            SecurityGroup | KeyPair | LogGroup => 10,
            S3Object => 11,
            S3BucketPolicy | S3PublicAccessBlock => 12,
            S3Bucket => 13,
            IamInstanceProfile => 14,
            IamRoleInlinePolicy | IamRolePolicyAttachment => 15,
            IamRole => 16,
            IamPolicy => 17,
            Network | SsmParameter => 18,
        }
    }

    /// The snake_case name used in plans and docs.
    pub fn as_str(self) -> &'static str {
        use Kind::*;
        match self {
            Network => "network",
            SsmParameter => "ssm_parameter",
            KeyPair => "key_pair",
            SecurityGroup => "security_group",
            SecurityGroupIngress => "security_group_ingress",
            IamPolicy => "iam_policy",
            IamRole => "iam_role",
            IamRolePolicyAttachment => "iam_role_policy_attachment",
            IamRoleInlinePolicy => "iam_role_inline_policy",
            IamInstanceProfile => "iam_instance_profile",
            S3Bucket => "s3_bucket",
            S3PublicAccessBlock => "s3_public_access_block",
            S3BucketPolicy => "s3_bucket_policy",
            S3Object => "s3_object",
            LogGroup => "log_group",
            LaunchTemplate => "launch_template",
            AutoscalingGroup => "autoscaling_group",
            CapacityProvider => "capacity_provider",
            EcsCluster => "ecs_cluster",
            ClusterCapacityProviders => "cluster_capacity_providers",
            TaskDefinition => "task_definition",
            TargetGroup => "target_group",
            LoadBalancer => "load_balancer",
            Listener => "listener",
            EcsService => "ecs_service",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
