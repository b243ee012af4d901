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
    pub severity: Severity,
    /// What the check catches, in a few words.
    pub summary: &'static str,
}

const fn code(id: &'static str, severity: Severity, summary: &'static str) -> Code {
    Code { id, severity, summary }
}

// Capacity: tasks must fit one container instance.
pub const TASK_MEMORY_TOO_LARGE: Code =
    code("BRT001", Error, "task memory above what one container instance registers");
pub const TASK_CPU_TOO_LARGE: Code = code("BRT002", Error, "task CPU above what one container instance registers");
pub const UNKNOWN_INSTANCE_TYPE: Code = code("BRT003", Warning, "instance type unknown to berth: fit not checked");

// Fargate.
pub const FARGATE_NETWORK_MODE: Code = code("BRT004", Error, "Fargate task not in awsvpc network mode");
pub const FARGATE_SIZE: Code = code("BRT005", Error, "Fargate task cpu/memory not a valid combination");

// Rolling updates.
pub const DEPLOYMENT_MINIMUM_ABOVE_MAXIMUM: Code =
    code("BRT006", Error, "minimum_healthy_percent above maximum_percent");
pub const DEPLOYMENT_STUCK: Code = code("BRT007", Error, "deployment may neither stop nor start a task");
pub const STATIC_PORT_DEADLOCK: Code = code("BRT008", Error, "static host port deadlocks the rolling update");

// Containers of a task.
pub const UNKNOWN_CONTAINER: Code = code("BRT009", Error, "links or depends_on name a container not in the task");
pub const LINKS_NEED_BRIDGE: Code = code("BRT010", Error, "links outside bridge network mode");
pub const LINK_WITHOUT_DEPENDS_ON: Code = code("BRT011", Warning, "linked container may start after its client");
pub const DEPENDS_ON_CYCLE: Code = code("BRT012", Error, "containers depend on each other in a cycle");
pub const NO_ESSENTIAL_CONTAINER: Code = code("BRT013", Error, "no essential container");
pub const CONTAINER_MEMORY: Code = code("BRT014", Error, "container memory above the task's or its own limit");
pub const DEPENDS_ON_CONDITION: Code = code("BRT015", Error, "depends_on condition ECS rejects");
pub const CONTAINER_WITHOUT_MEMORY: Code = code("BRT016", Error, "container without memory in a task without memory");

// Load balancing.
pub const LOAD_BALANCER_CONTAINER: Code = code("BRT017", Error, "load balancer container not in the task");
pub const LOAD_BALANCER_PORT: Code = code("BRT018", Error, "load balancer port not mapped by the container");
pub const TARGET_TYPE_NETWORK_MODE: Code = code("BRT019", Error, "target type does not suit the network mode");

// What the task's roles must allow.
pub const ENV_FILE_UNVERIFIED: Code = code("BRT020", Warning, "env file not managed by the stack: not verified");
pub const ENV_FILE_NOT_READABLE: Code = code("BRT021", Warning, "execution role may not read the env file");
pub const SECRET_NOT_READABLE: Code = code("BRT022", Warning, "execution role may not read the secret");
pub const EXECUTION_ROLE_MISSING: Code = code("BRT023", Error, "task needs an execution role");
pub const LOGS_NOT_WRITABLE: Code = code("BRT024", Warning, "role may not write the container's logs");

// Roles.
pub const TASK_ROLE_TRUST: Code = code("BRT025", Error, "task role does not trust ecs-tasks.amazonaws.com");
pub const INSTANCE_ROLE_TRUST: Code = code("BRT026", Error, "instance role does not trust ec2.amazonaws.com");
pub const INSTANCE_ROLE_PROFILE: Code = code("BRT027", Error, "instance role without an instance profile");
pub const INSTANCE_ROLE_PERMISSIONS: Code = code("BRT028", Warning, "instance role may not register with ECS");

// Security.
pub const INGRESS_OPEN_TO_WORLD: Code = code("BRT029", Warning, "every TCP port open to the internet");
pub const POLICY_WILDCARD: Code = code("BRT030", Warning, "policy allows every action of a service on every resource");
pub const SENSITIVE_BUCKET_PUBLIC: Code =
    code("BRT031", Warning, "sensitive objects in a bucket without public access block");

// Names AWS rejects.
pub const LOAD_BALANCER_NAME: Code = code("BRT032", Error, "load balancer or target group name AWS rejects");
pub const BUCKET_NAME: Code = code("BRT033", Error, "bucket name S3 rejects");
pub const ECS_NAME: Code = code("BRT034", Error, "cluster, service, family or container name ECS rejects");
pub const IAM_NAME: Code = code("BRT035", Error, "role or policy name IAM rejects");
pub const LOG_GROUP_NAME: Code = code("BRT036", Error, "log group name CloudWatch Logs rejects");

// `allow:` lists.
pub const ALLOW_ERROR: Code = code("BRT037", Error, "`allow` names an error");
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
];

// Checks that read AWS (see `super::live`); not part of `ALL`, which the
// offline fixtures cover one by one.
pub const REGISTERED_MEMORY_TOO_SMALL: Code =
    code("BRT039", Error, "task larger than every registered container instance of the cluster");
pub const ENV_FILE_MISSING: Code = code("BRT040", Error, "environment file not found in S3");
pub const SECRET_MISSING: Code = code("BRT041", Error, "secret not found in Secrets Manager");
pub const LOAD_BALANCER_ONE_ZONE: Code =
    code("BRT042", Error, "load balancer subnets in fewer than two availability zones");

/// The codes of the checks that read AWS.
pub const LIVE: &[Code] = &[REGISTERED_MEMORY_TOO_SMALL, ENV_FILE_MISSING, SECRET_MISSING, LOAD_BALANCER_ONE_ZONE];

// Checks made while expanding: of the files a stack uploads, and of values;
// not part of `ALL`, whose fixtures are checked by `offline_checks` alone.
pub const FILE_LOOKS_LIKE_CREDENTIALS: Code =
    code("BRT043", Warning, "file that looks like credentials not marked sensitive: masked anyway");
pub const ENV_FILE_LINE: Code = code("BRT044", Warning, "env file line that is not KEY=VALUE");
pub const LITERAL_SECRET: Code = code("BRT045", Warning, "secret-looking value written in `environment:`");

/// The codes of the checks made while expanding.
pub const EXPANSION: &[Code] = &[FILE_LOOKS_LIKE_CREDENTIALS, ENV_FILE_LINE, LITERAL_SECRET];

/// The code with this id (of those an `allow:` may name).
pub fn find(id: &str) -> Option<&'static Code> {
    ALL.iter().chain(EXPANSION).find(|c| c.id == id)
}
