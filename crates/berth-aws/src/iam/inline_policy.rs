//! An inline policy of a role: only its document changes in place.

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::json;

use super::{decode_document, delete_inline_policy, document, NO_SUCH_ENTITY};
use crate::handler::{fixed_field, Handler};
use crate::util::{absent_on, str_field};
use crate::{aws_error, Clients};

pub(crate) struct IamRoleInlinePolicy;

#[async_trait]
impl Handler for IamRoleInlinePolicy {
    fn kind(&self) -> Kind {
        Kind::IamRoleInlinePolicy
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let (role, name) = (str_field(req, "role")?, str_field(req, "name")?);
        let result = c.iam.get_role_policy().role_name(role).policy_name(name).send().await;
        let Some(out) = absent_on(result, NO_SUCH_ENTITY)? else {
            return Ok(None);
        };
        Ok(Some(Live {
            state: json!({ "role": role, "name": name, "document": decode_document(req, out.policy_document())? }),
            outputs: Outputs::new(),
            tags: None,
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        put_inline_policy(c, req).await?;
        Ok(Outputs::new())
    }

    async fn update(
        &self,
        c: &Clients,
        req: &NodeRequest<'_>,
        live: &Live,
        changed: &[String],
    ) -> ProviderResult<Outputs> {
        for field in changed {
            match field.as_str() {
                "document" => put_inline_policy(c, req).await?,
                other => return Err(fixed_field(req, other)),
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        delete_inline_policy(c, str_field(req, "role")?, str_field(req, "name")?).await
    }
}

async fn put_inline_policy(c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<()> {
    c.iam
        .put_role_policy()
        .role_name(str_field(req, "role")?)
        .policy_name(str_field(req, "name")?)
        .policy_document(document(req, "document")?)
        .send()
        .await
        .map_err(aws_error)?;
    Ok(())
}
