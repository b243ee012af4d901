//! Shared by the provider tests: berth's AWS provider connected to a private moto.

use berth_aws::{AwsOptions, AwsProvider};
use berth_testkit::{Moto, REGION};

/// The provider, pointed at `moto`, failing fast (two attempts per call).
pub async fn provider(moto: &Moto) -> AwsProvider {
    berth_testkit::use_test_credentials();
    AwsProvider::connect(&AwsOptions {
        endpoint_url: Some(moto.endpoint.clone()),
        region: Some(REGION.into()),
        max_attempts: Some(2),
        ..Default::default()
    })
    .await
    .expect("connect to moto")
}
