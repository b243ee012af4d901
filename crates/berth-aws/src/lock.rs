//! The per-stack lock that keeps two applies (or an apply and a destroy) from
//! running at once: an S3 object created with a conditional put
//! (`If-None-Match: *`), so exactly one writer wins. `plan` never locks. The
//! object says who holds it (the caller's ARN, from STS, and the host) and
//! since when, so that a lock left by a run that died can be judged stale.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};

use aws_sdk_s3::primitives::ByteStream;
use berth_core::provider::ProviderError;
use serde_json::{json, Value};

use crate::{aws_error, AwsProvider};

/// Where a lock lives: `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLocation {
    /// The bucket holding the lock object.
    pub bucket: String,
    /// The lock object's key.
    pub key: String,
}

impl LockLocation {
    /// Parses `s3://bucket/key`.
    pub fn parse(url: &str) -> Result<LockLocation, String> {
        let rest =
            url.strip_prefix("s3://").ok_or_else(|| format!("lock location `{url}` must look like s3://bucket/key"))?;
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                Ok(LockLocation { bucket: bucket.into(), key: key.into() })
            }
            _ => Err(format!("lock location `{url}` must look like s3://bucket/key")),
        }
    }
}

/// A lock this process holds.
#[derive(Debug, Clone)]
pub struct HeldLock {
    /// Where the lock is.
    pub location: LockLocation,
    /// The id written in the lock; releasing checks it, so a run never removes another's lock.
    pub id: String,
}

/// Who holds a lock, as written in the lock object.
#[derive(Debug, Clone, PartialEq)]
pub struct LockHolder {
    /// The lock's id, as `berth unlock --id` takes it.
    pub id: String,
    /// `ARN on HOST`.
    pub who: String,
    /// The command that took it (`apply`, `destroy`).
    pub operation: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

impl LockHolder {
    /// How long the lock has been held.
    pub fn age(&self) -> Duration {
        Duration::from_secs(now().saturating_sub(self.since))
    }
}

/// Why a lock could not be taken or released.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LockError {
    /// Another run holds the lock.
    #[error("stack `{stack}` is locked by {} ({}) since {} (lock id {})", .holder.who, .holder.operation, describe_time(.holder.since), .holder.id)]
    Held {
        /// The stack the lock is for.
        stack: String,
        /// Who holds it, and since when.
        holder: LockHolder,
    },
    /// `berth unlock` was given an id the lock does not carry.
    #[error("the lock is held under id {actual}, not {given}: nothing was removed")]
    WrongId {
        /// The id given.
        given: String,
        /// The id the lock carries.
        actual: String,
    },
    /// No lock object exists at this `bucket/key`.
    #[error("there is no lock at s3://{0}")]
    NotLocked(String),
    /// An S3 or STS call failed.
    #[error("{0}")]
    Aws(#[from] ProviderError),
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// `2026-12-02T03:12:00Z (5 min ago)`.
fn describe_time(since: u64) -> String {
    let age = now().saturating_sub(since);
    let ago = match age {
        0..=119 => format!("{age} s ago"),
        120..=7199 => format!("{} min ago", age / 60),
        7200..=172_799 => format!("{} h ago", age / 3600),
        _ => format!("{} days ago", age / 86_400),
    };
    let at = DateTime::from_secs(since as i64).fmt(Format::DateTime).unwrap_or_else(|_| since.to_string());
    format!("{at} ({ago})")
}

impl AwsProvider {
    /// Takes the lock for `stack`, or says who holds it.
    pub async fn lock(&self, location: &LockLocation, stack: &str, operation: &str) -> Result<HeldLock, LockError> {
        let id = format!("{:x}{:x}", now(), std::process::id());
        let arn = self.caller_arn().await?;
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let who = format!("{arn} on {host}");
        let body = json!({
            "id": id, "stack": stack, "who": who, "arn": arn, "host": host, "operation": operation, "since": now(),
        });
        let put = self
            .clients
            .s3
            .put_object()
            .bucket(&location.bucket)
            .key(&location.key)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body.to_string().into_bytes()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(HeldLock { location: location.clone(), id }),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412 || r.status().as_u16() == 409) => {
                let holder = self
                    .lock_holder(location)
                    .await?
                    .ok_or_else(|| LockError::NotLocked(format!("{}/{}", location.bucket, location.key)))?;
                Err(LockError::Held { stack: stack.into(), holder })
            }
            Err(e) => Err(LockError::Aws(aws_error(e))),
        }
    }

    /// The ARN of whoever berth acts as, as STS reports it.
    async fn caller_arn(&self) -> Result<String, LockError> {
        let identity = self.clients.sts.get_caller_identity().send().await.map_err(aws_error)?;
        Ok(identity.arn().unwrap_or("an unknown caller").to_owned())
    }

    /// Releases a lock this process took.
    pub async fn unlock(&self, held: &HeldLock) -> Result<(), LockError> {
        self.force_unlock(&held.location, &held.id).await
    }

    /// Removes the lock if it has `id` (for `berth unlock`).
    pub async fn force_unlock(&self, location: &LockLocation, id: &str) -> Result<(), LockError> {
        let holder = self
            .lock_holder(location)
            .await?
            .ok_or_else(|| LockError::NotLocked(format!("{}/{}", location.bucket, location.key)))?;
        if holder.id != id {
            return Err(LockError::WrongId { given: id.into(), actual: holder.id });
        }
        self.clients.s3.delete_object().bucket(&location.bucket).key(&location.key).send().await.map_err(aws_error)?;
        Ok(())
    }

    /// Who holds the lock, if anyone.
    pub async fn lock_holder(&self, location: &LockLocation) -> Result<Option<LockHolder>, LockError> {
        let got = self.clients.s3.get_object().bucket(&location.bucket).key(&location.key).send().await;
        let object = match got {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(LockError::Aws(aws_error(e))),
        };
        let bytes =
            object.body.collect().await.map_err(|e| ProviderError::new(format!("reading the lock: {e}")))?.into_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let text = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or("unknown").to_owned();
        Ok(Some(LockHolder {
            id: text("id"),
            who: text("who"),
            operation: text("operation"),
            since: value.get("since").and_then(Value::as_u64).unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_locations() {
        assert_eq!(
            LockLocation::parse("s3://b/locks/x.json").unwrap(),
            LockLocation { bucket: "b".into(), key: "locks/x.json".into() }
        );
        assert!(LockLocation::parse("b/x").is_err());
        assert!(LockLocation::parse("s3://b").is_err());
    }

    #[test]
    fn a_holder_is_described_with_time_and_age() {
        let holder = LockHolder {
            id: "x".into(),
            who: "arn:aws:iam::1:user/ci on runner".into(),
            operation: "apply".into(),
            since: 1,
        };
        assert!(holder.age() > Duration::from_secs(86_400 * 365));
        let error = LockError::Held { stack: "s".into(), holder };
        let text = error.to_string();
        assert!(
            text.contains("locked by arn:aws:iam::1:user/ci on runner (apply) since 1970-01-01T00:00:01Z ("),
            "{text}"
        );
    }
}
