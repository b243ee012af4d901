//! A Secrets Manager secret: its value (given, or generated once at
//! create), its resource policy and its tags.
//!
//! The value is read only when the desired state has one, to compare it in
//! memory; it never enters an error message. A generated value is made by
//! GetRandomPassword, stored by CreateSecret and never read again.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::{json, Value};

use super::{remember_generated, sdk_tags, SecretsTags};
use crate::handler::{fixed_field, retag, Arn, Handler, Tagger};
use crate::once::send_once;
use crate::util::{absent_on, desired_tags, invalid, live_arn, name_and_arn, opt_str, str_field, tags_from};
use crate::{aws_error, Clients};

const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// How often PutResourcePolicy is tried while IAM has not yet made a new
/// reader role known to Secrets Manager (`MalformedPolicyDocumentException`).
const POLICY_ATTEMPTS: u32 = 6;

pub(crate) struct Secret;

#[async_trait]
impl Handler for Secret {
    fn kind(&self) -> Kind {
        Kind::Secret
    }

    fn tagger(&self) -> Option<&'static dyn Tagger> {
        Some(&SecretsTags)
    }

    fn already_exists(&self) -> &'static [&'static str] {
        &["ResourceExistsException"]
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let Some(described) = absent_on(c.secrets.describe_secret().secret_id(name).send().await, NOT_FOUND)? else {
            return Ok(None);
        };
        // A secret scheduled for deletion is gone but for its name.
        if described.deleted_date().is_some() {
            return Ok(None);
        }
        let arn = described.arn().ok_or_else(|| invalid(req, "Secrets Manager returned no ARN"))?.to_owned();
        let mut state = json!({ "name": described.name().unwrap_or(name) });
        if let Some(description) = described.description().filter(|d| !d.is_empty()) {
            state["description"] = json!(description);
        }
        // Created once, never compared: the desired spec stands for what was made.
        if let Some(generate) = req.desired.get("generate") {
            state["generate"] = generate.clone();
        }
        if req.desired.get("value").is_some() {
            let read = absent_on(c.secrets.get_secret_value().secret_id(&arn).send().await, NOT_FOUND)?;
            if let Some(value) = read.as_ref().and_then(|r| r.secret_string()) {
                state["value"] = json!(value);
            }
        }
        let policy = c.secrets.get_resource_policy().secret_id(&arn).send().await.map_err(aws_error)?;
        if let Some(text) = policy.resource_policy().filter(|p| !p.trim().is_empty()) {
            let policy: Value = serde_json::from_str(text)
                .map_err(|e| invalid(req, format!("the secret's resource policy is not JSON: {e}")))?;
            state["policy"] = policy;
        }
        let tags = tags_from(described.tags().iter().map(|t| (t.key(), t.value())));
        Ok(Some(Live { state, outputs: name_and_arn(name, arn.as_str()), tags: Some(tags) }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let name = str_field(req, "name")?;
        let value = match (opt_str(req, "value"), req.desired.get("generate")) {
            (Some(value), _) => value.to_owned(),
            (None, Some(generate)) => generated(c, req, generate).await?,
            (None, None) => return Err(invalid(req, "desired state has neither `value` nor `generate`")),
        };
        let tags = desired_tags(req);
        let call = c
            .secrets
            .create_secret()
            .name(name)
            .set_description(opt_str(req, "description").map(str::to_owned))
            .secret_string(value)
            .set_tags((!tags.is_empty()).then(|| sdk_tags(tags)));
        let created = send_once!(aws_sdk_secretsmanager, call).map_err(aws_error)?;
        let arn = created.arn().ok_or_else(|| invalid(req, "CreateSecret returned no ARN"))?.to_owned();
        if req.desired.get("policy").is_some() {
            put_policy(c, req, &arn).await?;
        }
        Ok(name_and_arn(name, arn))
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        let arn = live_arn(req, live)?;
        for field in changed {
            match field.as_str() {
                "value" => {
                    let value = str_field(req, "value")?;
                    c.secrets.put_secret_value().secret_id(arn).secret_string(value).send().await.map_err(aws_error)?;
                }
                "description" => {
                    let description = opt_str(req, "description").unwrap_or_default();
                    let call = c.secrets.update_secret().secret_id(arn).description(description);
                    call.send().await.map_err(aws_error)?;
                }
                "policy" if req.desired.get("policy").is_some() => put_policy(c, req, arn).await?,
                "policy" => {
                    c.secrets.delete_resource_policy().secret_id(arn).send().await.map_err(aws_error)?;
                }
                // Made once at create: a changed spec does not make a new value.
                "generate" => {}
                "tags" => retag(&SecretsTags, c, req, live).await?,
                other => return Err(fixed_field(req, other)),
            }
        }
        Ok(live.outputs.clone())
    }

    /// Deleted at once, without the recovery window: a secret waiting out
    /// its window holds its name (a new apply could not create it again) and
    /// is still listed with the stack's tags.
    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, live: &Live) -> ProviderResult<()> {
        let id = live.outputs.get("arn").and_then(Value::as_str).map_or(str_field(req, "name")?, |arn| arn);
        let result = c.secrets.delete_secret().secret_id(id).force_delete_without_recovery(true).send().await;
        absent_on(result, NOT_FOUND).map(drop)
    }

    async fn identify(&self, _c: &Clients, arn: &Arn<'_>) -> ProviderResult<Option<Value>> {
        if arn.service != "secretsmanager" {
            return Ok(None);
        }
        let Some(full) = arn.resource.strip_prefix("secret:") else { return Ok(None) };
        // Secrets Manager appends `-` and six random characters to the name.
        let name = match full.char_indices().rev().nth(6) {
            Some((i, '-')) => &full[..i],
            _ => full,
        };
        Ok(Some(json!({ "name": name })))
    }
}

/// A random value as `generate` asks: letters and digits (so the value
/// fits a URL or a connection string unquoted), bare or as `{"KEY": value}`.
async fn generated(c: &Clients, req: &NodeRequest<'_>, generate: &Value) -> ProviderResult<String> {
    let length =
        generate.get("length").and_then(Value::as_i64).ok_or_else(|| invalid(req, "`generate` lacks `length`"))?;
    let out = c
        .secrets
        .get_random_password()
        .password_length(length)
        .exclude_punctuation(true)
        .include_space(false)
        .send()
        .await
        .map_err(aws_error)?;
    let password = out.random_password().ok_or_else(|| invalid(req, "GetRandomPassword returned no password"))?;
    remember_generated(password);
    Ok(match generate.get("key").and_then(Value::as_str) {
        Some(key) => json!({ key: password }).to_string(),
        None => password.to_owned(),
    })
}

async fn put_policy(c: &Clients, req: &NodeRequest<'_>, arn: &str) -> ProviderResult<()> {
    let policy = match req.desired.get("policy") {
        Some(policy @ Value::Object(_)) => policy.to_string(),
        _ => return Err(invalid(req, "desired state lacks policy object `policy`")),
    };
    let mut attempt = 1;
    loop {
        let call = c.secrets.put_resource_policy().secret_id(arn).resource_policy(&policy).block_public_policy(true);
        match call.send().await {
            Ok(_) => return Ok(()),
            // A role made a moment ago is not yet a principal Secrets Manager
            // accepts (moto accepts any principal: docs/moto.md).
            Err(e) if e.code() == Some("MalformedPolicyDocumentException") && attempt < POLICY_ATTEMPTS => {
                tokio::time::sleep(Duration::from_secs(2 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(aws_error(e)),
        }
    }
}
