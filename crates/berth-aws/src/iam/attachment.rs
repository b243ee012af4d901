//! A managed policy attached to a role. Nothing about it changes in place.

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, Outputs, ProviderResult};
use serde_json::json;

use super::{attached_policies, detach};
use crate::handler::Handler;
use crate::util::str_field;
use crate::{aws_error, Clients};

pub(crate) struct IamRolePolicyAttachment;

#[async_trait]
impl Handler for IamRolePolicyAttachment {
    fn kind(&self) -> Kind {
        Kind::IamRolePolicyAttachment
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let (role, arn) = (str_field(req, "role")?, str_field(req, "policy_arn")?);
        let attached = attached_policies(c, role).await?.unwrap_or_default();
        Ok(attached.iter().any(|a| a == arn).then(|| Live {
            state: json!({ "role": role, "policy_arn": arn }),
            outputs: Outputs::new(),
            tags: None,
        }))
    }

    async fn create(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Outputs> {
        let (role, arn) = (str_field(req, "role")?, str_field(req, "policy_arn")?);
        c.iam.attach_role_policy().role_name(role).policy_arn(arn).send().await.map_err(aws_error)?;
        Ok(Outputs::new())
    }

    async fn delete(&self, c: &Clients, req: &NodeRequest<'_>, _live: &Live) -> ProviderResult<()> {
        let (role, arn) = (str_field(req, "role")?, str_field(req, "policy_arn")?);
        detach(c, role, arn).await
    }
}
