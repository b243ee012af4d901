//! Finding what a stack owns by its tags, for resources no longer in the
//! stack file. The Resource Groups Tagging API covers most kinds; key pairs,
//! launch templates, auto scaling groups, capacity providers, listeners and
//! IAM are not covered by it (on AWS or on moto) and are listed per service.

use aws_sdk_ec2::types::Filter;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, ProviderResult, ID_TAG, STACK_TAG};
use serde_json::{json, Value};

use crate::{aws_error, Clients};

/// Every resource tagged as owned by `stack` that berth can identify.
pub(crate) async fn discover(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let mut found = tagged_resources(c, stack).await?;
    found.extend(ec2_tagged(c, stack).await?);
    found.extend(autoscaling_groups(c, stack).await?);
    found.extend(capacity_providers(c, stack).await?);
    found.extend(iam_roles_and_policies(c, stack).await?);
    let balancers: Vec<String> = found
        .iter()
        .filter(|d| d.kind == Kind::LoadBalancer)
        .filter_map(|d| d.identity.get("arn").and_then(Value::as_str).map(str::to_owned))
        .collect();
    found.extend(listeners(c, &balancers).await?);
    Ok(found)
}

fn discovered(address: Option<&str>, kind: Kind, identity: Value) -> Option<Discovered> {
    Some(Discovered { address: address?.to_owned(), kind, identity })
}

/// Resources the tagging API finds, identified from their ARNs.
async fn tagged_resources(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c
            .tagging
            .get_resources()
            .tag_filters(TagFilter::builder().key(STACK_TAG).values(stack).build())
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(aws_error)?;
        for mapping in page.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else { continue };
            let address = mapping.tags().iter().find(|t| t.key() == ID_TAG).map(|t| t.value());
            found.extend(identify_arn(c, arn, address).await?);
        }
        token = page.pagination_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

async fn identify_arn(c: &Clients, arn: &str, address: Option<&str>) -> ProviderResult<Option<Discovered>> {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let service = arn.split(':').nth(2).unwrap_or_default();
    Ok(match (service, resource.split_once('/').unwrap_or((resource, ""))) {
        ("s3", _) => discovered(address, Kind::S3Bucket, json!({ "name": resource })),
        ("logs", _) => {
            let name = resource.trim_start_matches("log-group:").trim_end_matches(":*");
            discovered(address, Kind::LogGroup, json!({ "name": name }))
        }
        ("ecs", ("cluster", name)) => discovered(address, Kind::EcsCluster, json!({ "name": name })),
        ("ecs", ("service", rest)) => {
            let (cluster, name) = rest.split_once('/').unwrap_or(("default", rest));
            discovered(address, Kind::EcsService, json!({ "name": name, "cluster": cluster }))
        }
        ("ecs", ("task-definition", rest)) => {
            let family = rest.split(':').next().unwrap_or(rest);
            discovered(address, Kind::TaskDefinition, json!({ "family": family }))
        }
        ("elasticloadbalancing", ("loadbalancer", rest)) => {
            let name = rest.split('/').nth(1).unwrap_or_default();
            discovered(address, Kind::LoadBalancer, json!({ "name": name, "arn": arn }))
        }
        ("elasticloadbalancing", ("targetgroup", rest)) => {
            let name = rest.split('/').next().unwrap_or_default();
            discovered(address, Kind::TargetGroup, json!({ "name": name }))
        }
        ("ec2", ("security-group", id)) => {
            let groups = c.ec2.describe_security_groups().group_ids(id).send().await.map_err(aws_error)?;
            groups.security_groups().first().and_then(|g| {
                discovered(address, Kind::SecurityGroup, json!({ "name": g.group_name(), "vpc_id": g.vpc_id() }))
            })
        }
        _ => None,
    })
}

fn owned_filter(stack: &str) -> Filter {
    Filter::builder().name(format!("tag:{STACK_TAG}")).values(stack).build()
}

fn id_tag<'a>(tags: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Option<&'a str> {
    tags.into_iter().find(|(k, _)| *k == Some(ID_TAG)).and_then(|(_, v)| v)
}

/// Key pairs and launch templates, which EC2 filters by tag.
async fn ec2_tagged(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let mut found = Vec::new();
    let keys = c.ec2.describe_key_pairs().filters(owned_filter(stack)).send().await.map_err(aws_error)?;
    for key in keys.key_pairs() {
        let address = id_tag(key.tags().iter().map(|t| (t.key(), t.value())));
        found.extend(discovered(address, Kind::KeyPair, json!({ "name": key.key_name() })));
    }
    let templates = c.ec2.describe_launch_templates().filters(owned_filter(stack)).send().await.map_err(aws_error)?;
    for template in templates.launch_templates() {
        let address = id_tag(template.tags().iter().map(|t| (t.key(), t.value())));
        found.extend(discovered(address, Kind::LaunchTemplate, json!({ "name": template.launch_template_name() })));
    }
    Ok(found)
}

async fn autoscaling_groups(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let filter = aws_sdk_autoscaling::types::Filter::builder().name(format!("tag:{STACK_TAG}")).values(stack).build();
    let groups = c.autoscaling.describe_auto_scaling_groups().filters(filter).send().await.map_err(aws_error)?;
    Ok(groups
        .auto_scaling_groups()
        .iter()
        .filter(|g| g.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(stack)))
        .filter_map(|g| {
            let address = id_tag(g.tags().iter().map(|t| (t.key(), t.value())));
            discovered(address, Kind::AutoscalingGroup, json!({ "name": g.auto_scaling_group_name() }))
        })
        .collect())
}

async fn capacity_providers(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let describe = || c.ecs.describe_capacity_providers().include(aws_sdk_ecs::types::CapacityProviderField::Tags);
    // moto answers this (without names) with a 500 every time, handled below:
    // retrying it would only cost the whole backoff. Throttles and transport
    // failures are still retried.
    let all = describe()
        .customize()
        .config_override(aws_sdk_ecs::config::Builder::default().retry_classifier(crate::retry::NoRetryOnServerError));
    let providers = match all.send().await {
        Ok(providers) => providers,
        // moto answers DescribeCapacityProviders without names with a 500; name
        // the providers attached to the account's clusters instead.
        Err(e) if e.raw_response().is_some_and(|r| r.status().is_server_error()) => {
            let names = attached_capacity_providers(c).await?;
            if names.is_empty() {
                return Ok(Vec::new());
            }
            describe().set_capacity_providers(Some(names)).send().await.map_err(aws_error)?
        }
        Err(e) => return Err(aws_error(e)),
    };
    Ok(providers
        .capacity_providers()
        .iter()
        .filter(|p| p.tags().iter().any(|t| t.key() == Some(STACK_TAG) && t.value() == Some(stack)))
        .filter_map(|p| {
            let address = id_tag(p.tags().iter().map(|t| (t.key(), t.value())));
            discovered(address, Kind::CapacityProvider, json!({ "name": p.name() }))
        })
        .collect())
}

async fn attached_capacity_providers(c: &Clients) -> ProviderResult<Vec<String>> {
    let clusters = c.ecs.list_clusters().send().await.map_err(aws_error)?;
    if clusters.cluster_arns().is_empty() {
        return Ok(Vec::new());
    }
    let described = c
        .ecs
        .describe_clusters()
        .set_clusters(Some(clusters.cluster_arns().to_vec()))
        .send()
        .await
        .map_err(aws_error)?;
    let mut names: Vec<String> =
        described.clusters().iter().flat_map(|cl| cl.capacity_providers().iter().cloned()).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// IAM roles, customer managed policies and instance profiles tagged with the stack.
async fn iam_roles_and_policies(c: &Clients, stack: &str) -> ProviderResult<Vec<Discovered>> {
    let owned = |tags: &[aws_sdk_iam::types::Tag]| -> Option<String> {
        let mine = tags.iter().any(|t| t.key() == STACK_TAG && t.value() == stack);
        mine.then(|| tags.iter().find(|t| t.key() == ID_TAG).map(|t| t.value().to_owned())).flatten()
    };
    let mut found = Vec::new();
    let mut roles = c.iam.list_roles().into_paginator().items().send();
    while let Some(role) = roles.next().await {
        let role = role.map_err(aws_error)?;
        let tags = c.iam.list_role_tags().role_name(role.role_name()).send().await.map_err(aws_error)?;
        if let Some(address) = owned(tags.tags()) {
            found.push(Discovered { address, kind: Kind::IamRole, identity: json!({ "name": role.role_name() }) });
        }
    }
    let mut policies =
        c.iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).into_paginator().items().send();
    while let Some(policy) = policies.next().await {
        let policy = policy.map_err(aws_error)?;
        let Some(arn) = policy.arn() else { continue };
        let tags = c.iam.list_policy_tags().policy_arn(arn).send().await.map_err(aws_error)?;
        if let Some(address) = owned(tags.tags()) {
            found.push(Discovered {
                address,
                kind: Kind::IamPolicy,
                identity: json!({ "name": policy.policy_name() }),
            });
        }
    }
    let mut profiles = c.iam.list_instance_profiles().into_paginator().items().send();
    while let Some(profile) = profiles.next().await {
        let profile = profile.map_err(aws_error)?;
        // moto does not implement ListInstanceProfileTags; GetInstanceProfile carries the tags on both.
        let got = c.iam.get_instance_profile().instance_profile_name(profile.instance_profile_name()).send().await;
        let tags = got.map_err(aws_error)?.instance_profile.and_then(|p| p.tags).unwrap_or_default();
        if let Some(address) = owned(&tags) {
            let identity = json!({ "name": profile.instance_profile_name() });
            found.push(Discovered { address, kind: Kind::IamInstanceProfile, identity });
        }
    }
    Ok(found)
}

/// Listeners of the stack's load balancers.
async fn listeners(c: &Clients, balancers: &[String]) -> ProviderResult<Vec<Discovered>> {
    let mut found = Vec::new();
    for balancer in balancers {
        let listeners = c.elb.describe_listeners().load_balancer_arn(balancer).send().await.map_err(aws_error)?;
        let arns: Vec<String> =
            listeners.listeners().iter().filter_map(|l| l.listener_arn().map(str::to_owned)).collect();
        if arns.is_empty() {
            continue;
        }
        let tags = c.elb.describe_tags().set_resource_arns(Some(arns)).send().await.map_err(aws_error)?;
        for description in tags.tag_descriptions() {
            let address = id_tag(description.tags().iter().map(|t| (t.key(), t.value())));
            let port = listeners
                .listeners()
                .iter()
                .find(|l| l.listener_arn() == description.resource_arn())
                .and_then(|l| l.port());
            found.extend(discovered(address, Kind::Listener, json!({ "load_balancer_arn": balancer, "port": port })));
        }
    }
    Ok(found)
}
