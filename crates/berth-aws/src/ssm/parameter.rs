//! A public SSM parameter, read as data (the ECS-optimized AMI id).

use async_trait::async_trait;
use berth_core::kind::Kind;
use berth_core::provider::{Live, NodeRequest, ProviderResult};
use serde_json::{json, Value};

use crate::handler::DataSource;
use crate::util::str_field;
use crate::{aws_error, Clients};

pub(crate) struct SsmParameter;

#[async_trait]
impl DataSource for SsmParameter {
    fn kind(&self) -> Kind {
        Kind::SsmParameter
    }

    async fn read(&self, c: &Clients, req: &NodeRequest<'_>) -> ProviderResult<Option<Live>> {
        let name = str_field(req, "name")?;
        let out = match c.ssm.get_parameter().name(name).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) => return Ok(None),
            Err(e) => return Err(aws_error(e)),
        };
        let value = out.parameter().and_then(|p| p.value()).unwrap_or_default().to_owned();
        Ok(Some(Live {
            state: json!({ "name": name }),
            outputs: [("value".to_owned(), Value::String(value))].into_iter().collect(),
            tags: None,
        }))
    }
}
