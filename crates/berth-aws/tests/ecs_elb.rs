//! The ECS and ELBv2 kinds against a private moto, through the `Provider`
//! trait as the engine uses it: create, read back the desired state, update in
//! place, read the change, delete, read nothing (and delete again harmlessly).

mod support;

use support::provider;

use std::collections::BTreeMap;

use berth_aws::AwsProvider;
use berth_core::kind::Kind;
use berth_core::normalize::normalize;
use berth_core::provider::{Live, NodeRequest, Outputs, Provider, ID_TAG, STACK_TAG};
use berth_testkit::{Moto, REGION};
use serde_json::{json, Value};

const STACK: &str = "ecs-elb-test";

/// A node of this kind at `address` with the given desired state.
struct Node {
    kind: Kind,
    address: String,
    desired: Value,
}

impl Node {
    /// A node whose desired state carries berth's ownership tags and one of its own.
    fn tagged(kind: Kind, address: &str, mut desired: Value) -> Node {
        desired["tags"] = json!({ STACK_TAG: STACK, ID_TAG: address, "team": "platform" });
        Node::untagged(kind, address, desired)
    }

    fn untagged(kind: Kind, address: &str, desired: Value) -> Node {
        Node { kind, address: address.into(), desired }
    }

    fn request(&self) -> NodeRequest<'_> {
        NodeRequest { stack: STACK, address: &self.address, kind: self.kind, desired: &self.desired }
    }

    fn desired_tags(&self) -> Option<BTreeMap<String, String>> {
        self.desired.get("tags").map(|t| serde_json::from_value(t.clone()).expect("string tags"))
    }

    fn desired_state(&self) -> Value {
        let mut state = self.desired.clone();
        state.as_object_mut().expect("object").remove("tags");
        state
    }

    async fn read(&self, p: &AwsProvider) -> Option<Live> {
        p.read(&self.request()).await.unwrap_or_else(|e| panic!("read {}: {e}", self.address))
    }

    /// Reads the node and checks that AWS holds exactly its desired state
    /// (normalized for kinds the engine normalizes).
    async fn read_matching(&self, p: &AwsProvider) -> Live {
        let live = self.read(p).await.unwrap_or_else(|| panic!("{} is missing", self.address));
        assert_eq!(
            normalize(self.kind, &live.state),
            normalize(self.kind, &self.desired_state()),
            "{}: live state",
            self.address
        );
        assert_eq!(live.tags, self.desired_tags(), "{}: live tags", self.address);
        live
    }

    /// Creates the node, checks the read-back and that create's outputs are
    /// the ones a read gives.
    async fn create(&self, p: &AwsProvider) -> Live {
        assert!(self.read(p).await.is_none(), "{} exists before create", self.address);
        let outputs = p.create(&self.request()).await.unwrap_or_else(|e| panic!("create {}: {e}", self.address));
        let live = self.read_matching(p).await;
        assert_eq!(live.outputs, outputs, "{}: outputs of create and read", self.address);
        live
    }

    /// Sets fields (removes those given as `null`), updates in place and
    /// checks the read-back.
    async fn update(&mut self, p: &AwsProvider, live: &Live, fields: Value) -> (Outputs, Live) {
        let fields = fields.as_object().expect("object of fields").clone();
        let changed: Vec<String> = fields.keys().cloned().collect();
        let desired = self.desired.as_object_mut().expect("object");
        for (field, value) in fields {
            match value {
                Value::Null => desired.remove(&field),
                value => desired.insert(field, value),
            };
        }
        let outputs = p
            .update(&self.request(), live, &changed)
            .await
            .unwrap_or_else(|e| panic!("update {} {changed:?}: {e}", self.address));
        (outputs, self.read_matching(p).await)
    }

    /// Changes one tag, adds one and removes one.
    async fn retag(&mut self, p: &AwsProvider, live: &Live) -> Live {
        let tags = json!({ STACK_TAG: STACK, ID_TAG: self.address, "team": "ops", "cost-center": "42" });
        self.update(p, live, json!({ "tags": tags })).await.1
    }

    /// Deletes the node, checks it is gone and that deleting again is fine.
    async fn delete(&self, p: &AwsProvider, live: &Live) {
        p.delete(&self.request(), live).await.unwrap_or_else(|e| panic!("delete {}: {e}", self.address));
        assert!(self.read(p).await.is_none(), "{} still exists after delete", self.address);
        p.delete(&self.request(), live).await.unwrap_or_else(|e| panic!("delete {} again: {e}", self.address));
    }
}

fn output(outputs: &Outputs, key: &str) -> String {
    outputs.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("no string output `{key}` in {outputs:?}")).into()
}

/// What ELB needs from EC2, made with the SDK directly.
struct Network {
    vpc_id: String,
    subnet_ids: Vec<String>,
    /// Two security groups, so a load balancer can move from one to the other.
    groups: [String; 2],
}

async fn network(moto: &Moto) -> Network {
    use aws_sdk_ec2::types::Filter;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config().await);
    let vpcs = ec2
        .describe_vpcs()
        .filters(Filter::builder().name("isDefault").values("true").build())
        .send()
        .await
        .expect("describe VPCs");
    let vpc_id = vpcs.vpcs().first().and_then(|v| v.vpc_id()).expect("moto has a default VPC").to_owned();
    let subnets = ec2
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
        .send()
        .await
        .expect("describe subnets");
    let mut subnet_ids: Vec<String> =
        subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    subnet_ids.sort();
    assert!(subnet_ids.len() >= 2, "an ALB needs two subnets: {subnet_ids:?}");
    let mut groups = Vec::new();
    for name in ["alb-a", "alb-b"] {
        let group = ec2
            .create_security_group()
            .group_name(name)
            .description("load balancer")
            .vpc_id(&vpc_id)
            .send()
            .await
            .expect("create security group");
        groups.push(group.group_id().expect("group id").to_owned());
    }
    let groups = groups.try_into().expect("two groups");
    Network { vpc_id, subnet_ids, groups }
}

/// A real auto scaling group (of no instances) for a capacity provider.
async fn autoscaling_group_arn(moto: &Moto, subnet: &str) -> String {
    let config = moto.sdk_config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let template = ec2
        .create_launch_template()
        .launch_template_name("ecs-instances")
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .expect("create launch template");
    let template_id = template.launch_template().and_then(|t| t.launch_template_id()).expect("template id");
    let autoscaling = aws_sdk_autoscaling::Client::new(&config);
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("ecs-instances")
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder().launch_template_id(template_id).build(),
        )
        .min_size(0)
        .max_size(0)
        .vpc_zone_identifier(subnet)
        .send()
        .await
        .expect("create auto scaling group");
    let groups = autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("ecs-instances")
        .send()
        .await
        .expect("describe auto scaling groups");
    groups.auto_scaling_groups().first().and_then(|g| g.auto_scaling_group_arn()).expect("group ARN").to_owned()
}

fn awslogs(prefix: &str) -> Value {
    json!({ "log_driver": "awslogs", "options": {
        "awslogs-group": "/ecs/example-app", "awslogs-region": REGION, "awslogs-stream-prefix": prefix,
    }})
}

/// The reference stack's task definition: an app and an nginx in front of it,
/// linked, on dynamic host ports.
fn task_definition(family: &str) -> Node {
    Node::tagged(
        Kind::TaskDefinition,
        &format!("task_definitions.{family}"),
        json!({
            "family": family,
            "network_mode": "bridge",
            "requires_compatibilities": ["EC2"],
            "cpu": "256",
            "memory": "450",
            "execution_role_arn": "arn:aws:iam::123456789012:role/ecs-task-execution",
            "task_role_arn": "arn:aws:iam::123456789012:role/example-app-task",
            "container_definitions": [
                {
                    "name": "example-app-container",
                    "image": "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/example-app:1",
                    "essential": true,
                    "memory": 192,
                    "cpu": 128,
                    "port_mappings": [{ "container_port": 8080, "protocol": "tcp" }],
                    "environment": [{ "name": "LOG_LEVEL", "value": "info" }, { "name": "PORT", "value": "8080" }],
                    "environment_files": [{ "type": "s3", "value": "arn:aws:s3:::example-config/app.env" }],
                    "secrets": [{ "name": "DB_PASSWORD", "value_from": "arn:aws:ssm:ap-northeast-2:123456789012:parameter/db" }],
                    "log_configuration": awslogs("app"),
                },
                {
                    "name": "reverse-proxy-container",
                    "image": "nginx:1.27",
                    "essential": true,
                    "memory": 256,
                    "memory_reservation": 128,
                    "port_mappings": [{ "container_port": 80, "host_port": 0, "protocol": "tcp" }],
                    "links": ["example-app-container"],
                    "depends_on": [{ "container_name": "example-app-container", "condition": "START" }],
                    "log_configuration": awslogs("proxy"),
                    "entry_point": ["/docker-entrypoint.sh"],
                    "command": ["nginx", "-g", "daemon off;"],
                },
            ],
        }),
    )
}

fn container<'a>(live: &'a Live, name: &str) -> &'a Value {
    live.state["container_definitions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name} in {:#}", live.state))
}

#[tokio::test]
async fn cluster_capacity_provider_and_their_association() {
    let moto = Moto::start();
    let p = provider(&moto).await;
    let net = network(&moto).await;
    let asg_arn = autoscaling_group_arn(&moto, &net.subnet_ids[0]).await;

    let mut cluster = Node::tagged(Kind::EcsCluster, "clusters.ecs-sample", json!({ "name": "ecs-sample" }));
    let cluster_live = cluster.create(&p).await;
    assert!(output(&cluster_live.outputs, "arn").ends_with(":cluster/ecs-sample"), "{:?}", cluster_live.outputs);
    let cluster_live = cluster.retag(&p, &cluster_live).await;

    let mut provider_node = Node::tagged(
        Kind::CapacityProvider,
        "clusters.ecs-sample.capacity_provider",
        json!({ "name": "cp-ecs-sample", "autoscaling_group_arn": asg_arn }),
    );
    let provider_live = provider_node.create(&p).await;
    assert_eq!(output(&provider_live.outputs, "name"), "cp-ecs-sample");
    let provider_live = provider_node.retag(&p, &provider_live).await;

    let association = |providers: Value, strategy: Value| {
        Node::untagged(
            Kind::ClusterCapacityProviders,
            "clusters.ecs-sample.capacity_providers",
            json!({ "cluster": "ecs-sample", "capacity_providers": providers, "default_strategy": strategy }),
        )
    };
    // A cluster without providers reads as an empty association, not a missing one.
    let empty = association(json!([]), json!([]));
    let empty_live = empty.read_matching(&p).await;
    assert_eq!((empty_live.outputs.len(), &empty_live.tags), (0, &None));

    let mut assoc = association(
        json!(["cp-ecs-sample"]),
        json!([{ "capacity_provider": "cp-ecs-sample", "weight": 1, "base": 0 }]),
    );
    p.create(&assoc.request()).await.expect("put capacity providers");
    let assoc_live = assoc.read_matching(&p).await;
    let strategy = json!([{ "capacity_provider": "cp-ecs-sample", "weight": 2, "base": 1 }]);
    let (_, assoc_live) = assoc.update(&p, &assoc_live, json!({ "default_strategy": strategy })).await;
    p.delete(&assoc.request(), &assoc_live).await.expect("clear capacity providers");
    empty.read_matching(&p).await;

    provider_node.delete(&p, &provider_live).await;
    cluster.delete(&p, &cluster_live).await;
    // Gone with its cluster; clearing it then is not an error.
    assert!(assoc.read(&p).await.is_none(), "association outlived its cluster");
    p.delete(&assoc.request(), &assoc_live).await.expect("clear capacity providers of a deleted cluster");
}

#[tokio::test]
async fn task_definition_revisions() {
    let moto = Moto::start();
    let p = provider(&moto).await;

    let mut td = task_definition("example-app");
    let live = td.create(&p).await;
    assert_eq!(live.outputs["revision"], json!(1));
    assert_eq!(live.outputs["family"], json!("example-app"));
    assert!(output(&live.outputs, "arn").ends_with(":task-definition/example-app:1"));
    assert_eq!(live.state["execution_role_arn"], json!("arn:aws:iam::123456789012:role/ecs-task-execution"));
    assert_eq!(live.state["cpu"], json!("256"));
    let proxy = container(&live, "reverse-proxy-container");
    assert_eq!(proxy["port_mappings"][0]["host_port"], json!(0));
    assert_eq!(proxy["links"], json!(["example-app-container"]));
    assert_eq!(proxy["depends_on"], json!([{ "container_name": "example-app-container", "condition": "START" }]));
    assert_eq!(proxy["log_configuration"], awslogs("proxy"));
    assert_eq!(proxy["command"], json!(["nginx", "-g", "daemon off;"]));
    let app = container(&live, "example-app-container");
    assert_eq!(app["environment_files"], json!([{ "type": "s3", "value": "arn:aws:s3:::example-config/app.env" }]));
    assert_eq!(app["secrets"][0]["name"], json!("DB_PASSWORD"));
    assert_eq!(app["memory"], json!(192));

    // A family whose name extends this one's is not one of its revisions.
    let other = task_definition("example-app-worker");
    p.create(&other.request()).await.expect("register the other family");

    // Any change but tags registers a new revision.
    let mut containers = td.desired["container_definitions"].clone();
    containers[1]["image"] = json!("nginx:1.28");
    let (outputs, live) = td.update(&p, &live, json!({ "container_definitions": containers })).await;
    assert_eq!(outputs["revision"], json!(2));
    assert_eq!(live.outputs, outputs);
    assert_eq!(container(&live, "reverse-proxy-container")["image"], json!("nginx:1.28"));

    // Tags alone are set on the current revision.
    let live = td.retag(&p, &live).await;
    assert_eq!(live.outputs["revision"], json!(2));

    // Every ACTIVE revision goes; the other family stays.
    td.delete(&p, &live).await;
    assert!(other.read(&p).await.is_some(), "deleting a family deregistered another one");
}

#[tokio::test]
async fn target_group_load_balancer_and_listener() {
    let moto = Moto::start();
    let p = provider(&moto).await;
    let net = network(&moto).await;

    let target_group = |name: &str| {
        Node::tagged(
            Kind::TargetGroup,
            &format!("target_groups.{name}"),
            json!({
                "name": name, "protocol": "HTTP", "port": 80, "vpc_id": net.vpc_id, "target_type": "instance",
                "health_check": {
                    "path": "/", "matcher": "200", "interval": 30, "healthy_threshold": 5, "unhealthy_threshold": 2,
                },
            }),
        )
    };
    let mut tg = target_group("example-tg");
    let tg_live = tg.create(&p).await;
    // The health check and the deregistration delay change in place.
    let health = json!({
        "path": "/health", "matcher": "200-399", "interval": 15, "timeout": 5, "healthy_threshold": 2,
        "unhealthy_threshold": 3,
    });
    let (_, tg_live) = tg.update(&p, &tg_live, json!({ "health_check": health, "deregistration_delay": 30 })).await;
    let tg_live = tg.retag(&p, &tg_live).await;
    let other_tg = target_group("other-tg");
    let other_tg_live = other_tg.create(&p).await;

    let mut lb = Node::tagged(
        Kind::LoadBalancer,
        "load_balancers.example-alb",
        json!({
            "name": "example-alb", "scheme": "internet-facing", "type": "application",
            "subnet_ids": net.subnet_ids, "security_group_ids": [net.groups[0]],
        }),
    );
    let lb_live = lb.create(&p).await;
    assert!(!output(&lb_live.outputs, "dns_name").is_empty());
    let (_, lb_live) = lb.update(&p, &lb_live, json!({ "security_group_ids": [net.groups[1]] })).await;
    let (_, lb_live) = lb.update(&p, &lb_live, json!({ "subnet_ids": net.subnet_ids[..2] })).await;
    let lb_live = lb.retag(&p, &lb_live).await;
    let lb_arn = output(&lb_live.outputs, "arn");

    let mut listener = Node::tagged(
        Kind::Listener,
        "load_balancers.example-alb.listeners[80]",
        json!({
            "load_balancer_arn": lb_arn, "port": 80, "protocol": "HTTP",
            "target_group_arn": output(&tg_live.outputs, "arn"),
        }),
    );
    let listener_live = listener.create(&p).await;
    let other_arn = output(&other_tg_live.outputs, "arn");
    let (_, listener_live) = listener.update(&p, &listener_live, json!({ "target_group_arn": other_arn })).await;
    let listener_live = listener.retag(&p, &listener_live).await;
    // Another port of the same balancer is another listener.
    let mut port_8080 = listener.desired.clone();
    port_8080["port"] = json!(8080);
    assert!(Node::untagged(Kind::Listener, "l8080", port_8080).read(&p).await.is_none());

    listener.delete(&p, &listener_live).await;
    p.create(&listener.request()).await.expect("listener again");
    lb.delete(&p, &lb_live).await;
    assert!(listener.read(&p).await.is_none(), "a listener outlived its load balancer");
    tg.delete(&p, &tg_live).await;
    other_tg.delete(&p, &other_tg_live).await;
}

#[tokio::test]
async fn service_lifecycle() {
    let moto = Moto::start();
    let p = provider(&moto).await;
    let net = network(&moto).await;

    let cluster = Node::tagged(Kind::EcsCluster, "clusters.ecs-sample", json!({ "name": "ecs-sample" }));
    p.create(&cluster.request()).await.expect("create cluster");
    let mut td = task_definition("example-app");
    let rev1 = p.create(&td.request()).await.expect("register task definition");
    let containers = td.desired["container_definitions"].clone();
    td.desired["container_definitions"][1]["image"] = json!("nginx:1.28");
    let rev2 = p.create(&td.request()).await.expect("register revision 2");
    td.desired["container_definitions"] = containers;

    // ECS wants a target group behind a load balancer's listener.
    let tg = Node::tagged(
        Kind::TargetGroup,
        "target_groups.example-tg",
        json!({
            "name": "example-tg", "protocol": "HTTP", "port": 80, "vpc_id": net.vpc_id, "target_type": "instance",
            "health_check": {
                "path": "/", "matcher": "200", "interval": 30, "healthy_threshold": 5, "unhealthy_threshold": 2,
            },
        }),
    );
    let tg_arn = output(&p.create(&tg.request()).await.expect("create target group"), "arn");
    let lb = Node::tagged(
        Kind::LoadBalancer,
        "load_balancers.example-alb",
        json!({
            "name": "example-alb", "scheme": "internet-facing", "type": "application",
            "subnet_ids": net.subnet_ids, "security_group_ids": [net.groups[0]],
        }),
    );
    let lb_arn = output(&p.create(&lb.request()).await.expect("create load balancer"), "arn");
    let listener = Node::tagged(
        Kind::Listener,
        "load_balancers.example-alb.listeners[80]",
        json!({ "load_balancer_arn": lb_arn, "port": 80, "protocol": "HTTP", "target_group_arn": tg_arn }),
    );
    p.create(&listener.request()).await.expect("create listener");

    let mut service = Node::tagged(
        Kind::EcsService,
        "services.example-app-service",
        json!({
            "name": "example-app-service",
            "cluster": "ecs-sample",
            "task_definition": output(&rev1, "arn"),
            "desired_count": 1,
            "launch_type": "EC2",
            // Not the defaults (100/200), so a dropped configuration shows.
            "deployment": { "minimum_healthy_percent": 0, "maximum_percent": 100 },
            "load_balancers": [{ "target_group_arn": tg_arn, "container_name": "reverse-proxy-container", "container_port": 80 }],
        }),
    );
    let live = service.create(&p).await;
    assert!(output(&live.outputs, "arn").ends_with("/example-app-service"), "{:?}", live.outputs);

    let changes = json!({
        "task_definition": output(&rev2, "arn"),
        "desired_count": 2,
        "deployment": { "minimum_healthy_percent": 50, "maximum_percent": 200 },
    });
    let (outputs, live) = service.update(&p, &live, changes).await;
    assert_eq!(outputs, live.outputs);
    let (_, live) = service.update(&p, &live, json!({ "load_balancers": null })).await;
    let live = service.retag(&p, &live).await;

    service.delete(&p, &live).await;
    // Deleting a service whose cluster is gone is not an error either.
    let cluster_live = cluster.read(&p).await.expect("cluster");
    p.delete(&cluster.request(), &cluster_live).await.expect("delete cluster");
    p.delete(&service.request(), &live).await.expect("delete service of a deleted cluster");
}
