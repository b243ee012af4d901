//! A launch template; a change of its data is a new default version.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplateIamInstanceProfileSpecificationRequest, RequestLaunchTemplateData, ResourceType,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use berth_core::kind::Kind;
use berth_core::provider::{Discovered, Live, NodeRequest, Outputs, ProviderError, ProviderResult};
use serde_json::json;

use super::{filter, has_code, output, owned_filter, tag_specification, Ec2Tags};
use crate::discover::{discovered, id_tag};
use crate::handler::{retag, Handler, Tagger};
use crate::once::send_once;
use crate::util::{client_token, opt_str, outputs, str_field, str_list, tags_from};
use crate::{aws_error, Clients};

pub(crate) struct LaunchTemplate;

#[async_trait]
impl Handler for LaunchTemplate {
    fn kind(&self) -> Kind {
        Kind::LaunchTemplate
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&Ec2Tags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["InvalidLaunchTemplateName.AlreadyExistsException"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let out = match c.ec2.describe_launch_templates().launch_template_names(name).send().await {
            Ok(out) => out,
            Err(e) if has_code(&e, &["InvalidLaunchTemplateName.NotFoundException"]) => return Ok(None),
            Err(e) => return Err(aws_error(e)),
        };
        let Some(template) = out.launch_templates().first() else {
            return Ok(None);
        };
        let id = template.launch_template_id().unwrap_or_default();
        let versions = c
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions("$Default")
            .send()
            .await
            .map_err(aws_error)?;
        let data = versions.launch_template_versions().first().and_then(|v| v.launch_template_data());
        let mut security_group_ids: Vec<&str> =
            data.map(|d| d.security_group_ids().iter().map(String::as_str).collect()).unwrap_or_default();
        security_group_ids.sort_unstable();
        let user_data = data.and_then(|d| d.user_data()).map(decode_user_data).unwrap_or_default();
        let mut state = json!({
            "name": name,
            "image_id": data.and_then(|d| d.image_id()).unwrap_or_default(),
            "instance_type": data.and_then(|d| d.instance_type()).map(|t| t.as_str()).unwrap_or_default(),
            "security_group_ids": security_group_ids,
            "user_data": user_data,
        });
        if let Some(key_name) = data.and_then(|d| d.key_name()) {
            state["key_name"] = json!(key_name);
        }
        if let Some(arn) = data.and_then(|d| d.iam_instance_profile()).and_then(|p| p.arn()) {
            state["instance_profile_arn"] = json!(arn);
        }
        Ok(Some(Live {
            state,
            outputs: template_outputs(id, name, template.latest_version_number()),
            tags: Some(resource_tags(c, id).await?),
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let call = c
            .ec2
            .create_launch_template()
            .launch_template_name(name)
            .launch_template_data(template_data(req)?)
            .tag_specifications(tag_specification(ResourceType::LaunchTemplate, req))
            .client_token(client_token(req));
        let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
        let template = out.launch_template();
        let id = template.and_then(|t| t.launch_template_id()).unwrap_or_default();
        Ok(template_outputs(id, name, template.and_then(|t| t.latest_version_number())))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        let id = output(live, "id")?;
        let mut outputs = live.outputs.clone();
        if changed.iter().any(|f| f != "tags") {
            // A lost answer fails the update rather than making a second version;
            // the next plan sees whether the first one was made.
            let call =
                c.ec2.create_launch_template_version().launch_template_id(id).launch_template_data(template_data(req)?);
            let out = send_once!(aws_sdk_ec2, call).map_err(aws_error)?;
            let version = out.launch_template_version().and_then(|v| v.version_number()).ok_or_else(|| {
                ProviderError::new(format!("{}: AWS did not return the new launch template version", req.address))
            })?;
            c.ec2
                .modify_launch_template()
                .launch_template_id(id)
                .default_version(version.to_string())
                .send()
                .await
                .map_err(aws_error)?;
            outputs.insert("latest_version".into(), json!(version.to_string()));
        }
        retag(&Ec2Tags, c, req, live).await?;
        Ok(outputs)
    }

    async fn delete(&self, c: &Clients, _req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        match c.ec2.delete_launch_template().launch_template_id(output(live, "id")?).send().await {
            Ok(_) => Ok(()),
            // AWS says InvalidLaunchTemplateId.NotFound; moto answers with the name's code.
            Err(e)
                if has_code(
                    &e,
                    &["InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException"],
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(aws_error(e)),
        }
    }

    /// EC2 filters launch templates by tag.
    async fn discover(&self, c: &Clients, stack: &str, _found: &[Discovered]) -> ProviderResult<Vec<Discovered>> {
        let templates =
            c.ec2.describe_launch_templates().filters(owned_filter(stack)).send().await.map_err(aws_error)?;
        Ok(templates
            .launch_templates()
            .iter()
            .filter_map(|template| {
                let address = id_tag(template.tags().iter().map(|t| (t.key(), t.value())));
                discovered(address, Kind::LaunchTemplate, json!({ "name": template.launch_template_name() }))
            })
            .collect())
    }
}

fn decode_user_data(encoded: &str) -> String {
    match BASE64.decode(encoded.trim()) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => encoded.to_owned(),
    }
}

fn template_outputs(id: &str, name: &str, latest_version: Option<i64>) -> Outputs {
    let latest = latest_version.map(|v| v.to_string()).unwrap_or_default();
    outputs([("id", json!(id)), ("name", json!(name)), ("latest_version", json!(latest))])
}

/// The whole launch template data: a new version starts from nothing, not
/// from the previous one (moto ignores SourceVersion anyway).
fn template_data(req: &NodeRequest<'_>) -> ProviderResult<RequestLaunchTemplateData> {
    let user_data = opt_str(req, "user_data").filter(|u| !u.is_empty()).map(|u| BASE64.encode(u));
    let profile = opt_str(req, "instance_profile_arn")
        .map(|arn| LaunchTemplateIamInstanceProfileSpecificationRequest::builder().arn(arn).build());
    Ok(RequestLaunchTemplateData::builder()
        .image_id(str_field(req, "image_id")?)
        .instance_type(InstanceType::from(str_field(req, "instance_type")?))
        .set_key_name(opt_str(req, "key_name").map(str::to_owned))
        .set_security_group_ids(Some(str_list(req, "security_group_ids")))
        .set_iam_instance_profile(profile)
        .set_user_data(user_data)
        .build())
}

/// A resource's current tags. Used for launch templates, whose
/// DescribeLaunchTemplates tags are, on moto (unlike AWS), those it was created
/// with: CreateTags and DeleteTags do not show there, only here.
async fn resource_tags(c: &Clients, resource_id: &str) -> ProviderResult<BTreeMap<String, String>> {
    let tags: Vec<_> = c
        .ec2
        .describe_tags()
        .filters(filter("resource-id", resource_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(aws_error)?;
    Ok(tags_from(tags.iter().map(|t| (t.key(), t.value()))))
}

#[cfg(test)]
mod tests {
    use super::decode_user_data;

    #[test]
    fn user_data_is_decoded_and_kept_when_not_base64() {
        assert_eq!(decode_user_data("IyEvYmluL2Jhc2gK"), "#!/bin/bash\n");
        assert_eq!(decode_user_data("#!/bin/bash"), "#!/bin/bash");
    }
}
