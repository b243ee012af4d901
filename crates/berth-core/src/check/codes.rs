//! The stable codes of the pre-flight checks. A code never changes meaning
//! once released: users list warning codes in `allow:` and CI scripts match
//! on them. docs/checks.md documents each one (a test keeps the two in step).

use crate::diag::Severity;
use crate::diag::Severity::{Error, Warning};

/// One kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// `BRT001`.
    pub id: &'static str,
    /// Whether a finding stops the run (an error) or may be allowed (a warning).
    pub severity: Severity,
    /// What the check catches, in a few words.
    pub summary: &'static str,
}

const fn code(id: &'static str, severity: Severity, summary: &'static str) -> Code {
    Code { id, severity, summary }
}

// Capacity: tasks must fit one container instance.
/// A task that needs more memory than one instance of its cluster's type registers, so it is never placed.
pub const TASK_MEMORY_TOO_LARGE: Code =
    code("BRT001", Error, "task memory above what one container instance registers");
/// A task that needs more CPU than one instance of its cluster's type registers.
pub const TASK_CPU_TOO_LARGE: Code = code("BRT002", Error, "task CPU above what one container instance registers");
/// An instance type berth has no figures for, so BRT001 and BRT002 cannot judge the fit.
pub const UNKNOWN_INSTANCE_TYPE: Code = code("BRT003", Warning, "instance type unknown to berth: fit not checked");

// Fargate.
/// A Fargate task in a network mode other than `awsvpc`.
pub const FARGATE_NETWORK_MODE: Code = code("BRT004", Error, "Fargate task not in awsvpc network mode");
/// A Fargate task whose `cpu` and `memory` are not a size Fargate offers.
pub const FARGATE_SIZE: Code = code("BRT005", Error, "Fargate task cpu/memory not a valid combination");

// Rolling updates.
/// Deployment limits whose minimum healthy percent exceeds the maximum percent.
pub const DEPLOYMENT_MINIMUM_ABOVE_MAXIMUM: Code =
    code("BRT006", Error, "minimum_healthy_percent above maximum_percent");
/// Deployment limits that, for the desired count, keep every old task and allow no new one.
pub const DEPLOYMENT_STUCK: Code = code("BRT007", Error, "deployment may neither stop nor start a task");
/// A static host port that leaves a new task no instance to start on during a rolling update.
pub const STATIC_PORT_DEADLOCK: Code = code("BRT008", Error, "static host port deadlocks the rolling update");

// Containers of a task.
/// A `links` or `depends_on` entry naming a container the task does not have.
pub const UNKNOWN_CONTAINER: Code = code("BRT009", Error, "links or depends_on name a container not in the task");
/// Container `links` in a task whose network mode is not `bridge`.
pub const LINKS_NEED_BRIDGE: Code = code("BRT010", Error, "links outside bridge network mode");
/// A link with no `depends_on` ordering the start, so the client may start first.
pub const LINK_WITHOUT_DEPENDS_ON: Code = code("BRT011", Warning, "linked container may start after its client");
/// Containers whose `depends_on` form a cycle.
pub const DEPENDS_ON_CYCLE: Code = code("BRT012", Error, "containers depend on each other in a cycle");
/// A task in which every container is `essential: false`.
pub const NO_ESSENTIAL_CONTAINER: Code = code("BRT013", Error, "no essential container");
/// A container memory limit or reservation above the task's memory, or a reservation above its own limit.
pub const CONTAINER_MEMORY: Code = code("BRT014", Error, "container memory above the task's or its own limit");
/// A `depends_on` condition ECS does not accept, or one that cannot be set on an essential container.
pub const DEPENDS_ON_CONDITION: Code = code("BRT015", Error, "depends_on condition ECS rejects");
/// A container with neither `memory` nor `memory_reservation` in a task that sets no memory.
pub const CONTAINER_WITHOUT_MEMORY: Code = code("BRT016", Error, "container without memory in a task without memory");

// Load balancing.
/// A service's `load_balancer.container` that is not a container of its task.
pub const LOAD_BALANCER_CONTAINER: Code = code("BRT017", Error, "load balancer container not in the task");
/// A service's `load_balancer.port` that its container does not map.
pub const LOAD_BALANCER_PORT: Code = code("BRT018", Error, "load balancer port not mapped by the container");
/// A target group `target_type` that does not match how ECS registers tasks of that network mode.
pub const TARGET_TYPE_NETWORK_MODE: Code = code("BRT019", Error, "target type does not suit the network mode");

// What the task's roles must allow.
/// An env file the stack does not upload, so its existence cannot be checked offline.
pub const ENV_FILE_UNVERIFIED: Code = code("BRT020", Warning, "env file not managed by the stack: not verified");
/// An env file the task's execution role has no permission to read.
pub const ENV_FILE_NOT_READABLE: Code = code("BRT021", Warning, "execution role may not read the env file");
/// A secret the task's execution role has no permission to read.
pub const SECRET_NOT_READABLE: Code = code("BRT022", Warning, "execution role may not read the secret");
/// A task using env files, secrets or (on Fargate) awslogs without an `execution_role`.
pub const EXECUTION_ROLE_MISSING: Code = code("BRT023", Error, "task needs an execution role");
/// A container whose logs the role the awslogs driver uses may not write.
pub const LOGS_NOT_WRITABLE: Code = code("BRT024", Warning, "role may not write the container's logs");

// Roles.
/// An execution or task role that `ecs-tasks.amazonaws.com` may not assume.
pub const TASK_ROLE_TRUST: Code = code("BRT025", Error, "task role does not trust ecs-tasks.amazonaws.com");
/// A cluster's instance role that `ec2.amazonaws.com` may not assume.
pub const INSTANCE_ROLE_TRUST: Code = code("BRT026", Error, "instance role does not trust ec2.amazonaws.com");
/// A cluster's instance role without `instance_profile: true`.
pub const INSTANCE_ROLE_PROFILE: Code = code("BRT027", Error, "instance role without an instance profile");
/// An instance role that may not register its instances with ECS, so no task is placed.
pub const INSTANCE_ROLE_PERMISSIONS: Code = code("BRT028", Warning, "instance role may not register with ECS");

// Security.
/// An ingress rule opening every TCP port, or every protocol, to the whole internet.
pub const INGRESS_OPEN_TO_WORLD: Code = code("BRT029", Warning, "every TCP port open to the internet");
/// An Allow statement granting `*` or `<service>:*` on every resource.
pub const POLICY_WILDCARD: Code = code("BRT030", Warning, "policy allows every action of a service on every resource");
/// A bucket holding `sensitive` objects without blocking public access.
pub const SENSITIVE_BUCKET_PUBLIC: Code =
    code("BRT031", Warning, "sensitive objects in a bucket without public access block");

// Names AWS rejects.
/// A load balancer or target group name outside ELB's naming rules.
pub const LOAD_BALANCER_NAME: Code = code("BRT032", Error, "load balancer or target group name AWS rejects");
/// A bucket name outside S3's naming rules.
pub const BUCKET_NAME: Code = code("BRT033", Error, "bucket name S3 rejects");
/// A cluster, service, task family or container name outside ECS's naming rules.
pub const ECS_NAME: Code = code("BRT034", Error, "cluster, service, family or container name ECS rejects");
/// A role or policy name outside IAM's naming rules.
pub const IAM_NAME: Code = code("BRT035", Error, "role or policy name IAM rejects");
/// A log group name outside CloudWatch Logs' naming rules.
pub const LOG_GROUP_NAME: Code = code("BRT036", Error, "log group name CloudWatch Logs rejects");

// `allow:` lists.
/// An `allow:` entry naming an error, which cannot be silenced.
pub const ALLOW_ERROR: Code = code("BRT037", Error, "`allow` names an error");
/// An `allow:` entry naming a code berth does not have.
pub const ALLOW_UNKNOWN: Code = code("BRT038", Warning, "`allow` names an unknown code");

/// Every code, in order.
pub const ALL: &[Code] = &[
    TASK_MEMORY_TOO_LARGE,
    TASK_CPU_TOO_LARGE,
    UNKNOWN_INSTANCE_TYPE,
    FARGATE_NETWORK_MODE,
    FARGATE_SIZE,
    DEPLOYMENT_MINIMUM_ABOVE_MAXIMUM,
    DEPLOYMENT_STUCK,
    STATIC_PORT_DEADLOCK,
    UNKNOWN_CONTAINER,
    LINKS_NEED_BRIDGE,
    LINK_WITHOUT_DEPENDS_ON,
    DEPENDS_ON_CYCLE,
    NO_ESSENTIAL_CONTAINER,
    CONTAINER_MEMORY,
    DEPENDS_ON_CONDITION,
    CONTAINER_WITHOUT_MEMORY,
    LOAD_BALANCER_CONTAINER,
    LOAD_BALANCER_PORT,
    TARGET_TYPE_NETWORK_MODE,
    ENV_FILE_UNVERIFIED,
    ENV_FILE_NOT_READABLE,
    SECRET_NOT_READABLE,
    EXECUTION_ROLE_MISSING,
    LOGS_NOT_WRITABLE,
    TASK_ROLE_TRUST,
    INSTANCE_ROLE_TRUST,
    INSTANCE_ROLE_PROFILE,
    INSTANCE_ROLE_PERMISSIONS,
    INGRESS_OPEN_TO_WORLD,
    POLICY_WILDCARD,
    SENSITIVE_BUCKET_PUBLIC,
    LOAD_BALANCER_NAME,
    BUCKET_NAME,
    ECS_NAME,
    IAM_NAME,
    LOG_GROUP_NAME,
    ALLOW_ERROR,
    ALLOW_UNKNOWN,
    SERVICE_NETWORK,
    LISTENER_CERTIFICATE,
    LISTENER_PORT_TAKEN,
    RULE_PRIORITY_TAKEN,
    MOUNT_UNKNOWN_VOLUME,
    HOST_PORT_NOT_CONTAINER_PORT,
    FARGATE_UNSUPPORTED,
    GRACE_PERIOD_WITHOUT_LOAD_BALANCER,
    CONTAINER_HEALTH_CHECK_LIMITS,
    ENV_FILE_UNREADABLE,
    SECRET_UNREADABLE,
    SCALING_RANGE,
    SCALING_TARGET,
    SCALING_REQUESTS_WITHOUT_LOAD_BALANCER,
    SECRET_WITHOUT_READERS,
];

/// An awsvpc service without `network:`, or `network:` on a service whose tasks are not awsvpc.
pub const SERVICE_NETWORK: Code =
    code("BRT046", Error, "awsvpc service without `network`, or `network` without awsvpc");
/// An HTTPS listener without a certificate, or a certificate on another protocol.
pub const LISTENER_CERTIFICATE: Code = code("BRT047", Error, "HTTPS listener without a certificate, or one on HTTP");
/// Two listeners of one load balancer on one port.
pub const LISTENER_PORT_TAKEN: Code = code("BRT048", Error, "two listeners on one port of a load balancer");
/// Two rules of one listener with one priority.
pub const RULE_PRIORITY_TAKEN: Code = code("BRT049", Error, "two rules of a listener with one priority");
/// A container mount naming a volume its task does not declare.
pub const MOUNT_UNKNOWN_VOLUME: Code = code("BRT056", Error, "mount names a volume the task does not have");
/// An awsvpc or host task whose host port differs from the container port.
pub const HOST_PORT_NOT_CONTAINER_PORT: Code =
    code("BRT057", Error, "host port other than the container port in awsvpc or host mode");
/// A Fargate task using what Fargate does not offer.
pub const FARGATE_UNSUPPORTED: Code =
    code("BRT058", Error, "Fargate task with a host volume, a long stop timeout or an unsupported platform");
/// A health-check grace period on a service without a load balancer.
pub const GRACE_PERIOD_WITHOUT_LOAD_BALANCER: Code =
    code("BRT059", Warning, "health-check grace period without a load balancer");
/// An env file the execution role cannot read, every policy involved being known.
pub const ENV_FILE_UNREADABLE: Code = code("BRT062", Error, "execution role cannot read the env file");
/// A secret the execution role cannot read, every policy involved being known.
pub const SECRET_UNREADABLE: Code = code("BRT063", Error, "execution role cannot read the secret");
/// A container health check outside the limits ECS accepts.
pub const CONTAINER_HEALTH_CHECK_LIMITS: Code = code("BRT061", Error, "container health check outside ECS's limits");

// Service auto scaling.
/// Autoscaling whose `min` is above its `max`, or a `desired_count` outside them.
pub const SCALING_RANGE: Code = code("BRT053", Error, "autoscaling min above max, or desired_count outside them");
/// Autoscaling with no target to track, or a target no service can reach.
pub const SCALING_TARGET: Code = code("BRT054", Error, "autoscaling without a usable target to track");
/// `requests_per_target` on a service that no load balancer of the file forwards to.
pub const SCALING_REQUESTS_WITHOUT_LOAD_BALANCER: Code =
    code("BRT055", Error, "autoscaling on requests per target without a load balancer");
/// A secret of `secrets:` without `readers:`, so no resource policy says who reads it.
pub const SECRET_WITHOUT_READERS: Code = code("BRT050", Warning, "secret without readers");

// Checks that read AWS (see `super::live`); not part of `ALL`, which the
// offline fixtures cover one by one.
/// A task needing more memory than any container instance its cluster already has registered.
pub const REGISTERED_MEMORY_TOO_SMALL: Code =
    code("BRT039", Error, "task larger than every registered container instance of the cluster");
/// An env file the stack does not upload that does not exist in S3.
pub const ENV_FILE_MISSING: Code = code("BRT040", Error, "environment file not found in S3");
/// A secret ARN naming no existing secret in Secrets Manager.
pub const SECRET_MISSING: Code = code("BRT041", Error, "secret not found in Secrets Manager");
/// A load balancer whose subnets span fewer than two availability zones.
pub const LOAD_BALANCER_ONE_ZONE: Code =
    code("BRT042", Error, "load balancer subnets in fewer than two availability zones");

/// A listener's certificate that ACM does not hold, or not as ISSUED.
pub const CERTIFICATE_NOT_ISSUED: Code = code("BRT060", Error, "listener certificate not found in ACM or not issued");

/// The codes of the checks that read AWS.
pub const LIVE: &[Code] =
    &[REGISTERED_MEMORY_TOO_SMALL, ENV_FILE_MISSING, SECRET_MISSING, LOAD_BALANCER_ONE_ZONE, CERTIFICATE_NOT_ISSUED];

// Checks made while expanding: of the files a stack uploads, and of values;
// not part of `ALL`, whose fixtures are checked by `offline_checks` alone.
/// An uploaded file that looks like credentials but is not marked `sensitive` (berth masks it anyway).
pub const FILE_LOOKS_LIKE_CREDENTIALS: Code =
    code("BRT043", Warning, "file that looks like credentials not marked sensitive: masked anyway");
/// A line of an uploaded `.env` object that ECS would ignore or misread.
pub const ENV_FILE_LINE: Code = code("BRT044", Warning, "env file line that is not KEY=VALUE");
/// A secret-looking value written literally in a container's `environment:`.
pub const LITERAL_SECRET: Code = code("BRT045", Warning, "secret-looking value written in `environment:`");

/// The codes of the checks made while expanding.
pub const EXPANSION: &[Code] = &[FILE_LOOKS_LIKE_CREDENTIALS, ENV_FILE_LINE, LITERAL_SECRET];

/// The code with this id (of those an `allow:` may name).
pub fn find(id: &str) -> Option<&'static Code> {
    ALL.iter().chain(EXPANSION).find(|c| c.id == id)
}
