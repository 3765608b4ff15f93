//! Mutation inputs and the checks that turn them into requests.
//!
//! Bad input is refused here, before any call, so it changes nothing.

use async_graphql::{Enum, InputObject};
use callvault_contracts::metadata_api::KeyMode as ApiKeyMode;
use uuid::Uuid;

use super::types::Role;
use crate::access::TenantSettings;
use crate::error::bad_input;

const MAX_NAME_LEN: usize = 200;
/// An email address is at most 320 bytes; identity providers' subjects are
/// shorter.
const MAX_SUBJECT_LEN: usize = 320;
const MAX_KEY_ARN_LEN: usize = 2048;
/// A century: longer than any statutory retention period we know of.
pub(super) const MAX_RETENTION_DAYS: i32 = 36_500;

/// Where a tenant's master key comes from.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMode {
    /// callvault creates a key for the tenant (and, on a key change, rotates
    /// it to a new version).
    Managed,
    /// The tenant brings its own KMS key (`keyArn`).
    External,
}

#[derive(InputObject)]
pub struct OnboardTenantInput {
    pub bpo_id: Uuid,
    pub name: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    pub default_retention_days: i32,
    pub key_mode: KeyMode,
    /// Required with `EXTERNAL`, refused with `MANAGED`.
    pub key_arn: Option<String>,
    /// ISO 3166 alpha-2 country whose numbering plan reads phone numbers
    /// given without a country code (`JP`: `03-1234-5678` is
    /// `+81312345678`), at ingest and in searches. Omitted: the time zone's
    /// country (`Asia/Tokyo` gives `JP`); a zone without one (`UTC`) gives
    /// none, and then only numbers with their country code are numbers.
    pub default_region: Option<String>,
}

impl OnboardTenantInput {
    pub(super) fn into_new_tenant(self) -> async_graphql::Result<TenantSettings> {
        let name = checked_name(&self.name, "name")?;
        let time_zone = self.time_zone.trim();
        // The metadata service checks the zone against the tz database; this
        // only refuses what can't be a zone name.
        if time_zone.is_empty() || time_zone.len() > 64 || time_zone.contains(char::is_whitespace) {
            return Err(bad_input("timeZone is not a time zone name"));
        }
        if !(1..=MAX_RETENTION_DAYS).contains(&self.default_retention_days) {
            return Err(bad_input(format!(
                "defaultRetentionDays must be between 1 and {MAX_RETENTION_DAYS}"
            )));
        }
        // The metadata service checks the code against the numbering plans;
        // this only refuses what can't be a two-letter code.
        let default_region = match self.default_region.as_deref().map(str::trim) {
            None => None,
            Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(code.to_owned())
            }
            Some(_) => {
                return Err(bad_input(
                    "defaultRegion must be an ISO 3166 alpha-2 country code such as JP",
                ));
            }
        };
        Ok(TenantSettings {
            name,
            time_zone: time_zone.to_owned(),
            default_retention_days: self.default_retention_days.unsigned_abs(),
            key_mode: key_mode(self.key_mode, self.key_arn)?,
            default_region,
        })
    }
}

/// A key mode and the ARN that must (EXTERNAL) or must not (MANAGED) come
/// with it.
pub(super) fn key_mode(
    mode: KeyMode,
    key_arn: Option<String>,
) -> async_graphql::Result<ApiKeyMode> {
    match (mode, key_arn) {
        (KeyMode::Managed, None) => Ok(ApiKeyMode::Managed),
        (KeyMode::Managed, Some(_)) => Err(bad_input("keyArn is only for EXTERNAL keys")),
        (KeyMode::External, None) => Err(bad_input("EXTERNAL keys need a keyArn")),
        (KeyMode::External, Some(arn)) => {
            if !arn.starts_with("arn:")
                || arn.len() > MAX_KEY_ARN_LEN
                || arn.contains(char::is_whitespace)
            {
                return Err(bad_input("keyArn is not an arn"));
            }
            Ok(ApiKeyMode::External { key_arn: arn })
        }
    }
}

/// A user. Tenant roles need `tenantId`; `BPO_ADMIN` needs `bpoId`;
/// `PLATFORM_ADMIN` takes neither.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The identity provider's subject (the token's `sub`).
    pub subject: String,
    pub role: Role,
    pub tenant_id: Option<Uuid>,
    pub bpo_id: Option<Uuid>,
    /// For agents: the agent id their calls carry.
    pub agent_id: Option<String>,
}

/// Where a new user belongs, which decides who may create it.
pub(super) enum UserHome {
    Platform,
    Bpo(Uuid),
    Tenant {
        tenant: Uuid,
        role: callvault_contracts::Role,
        agent_id: Option<String>,
    },
}

impl CreateUserInput {
    pub(super) fn into_parts(self) -> async_graphql::Result<(String, UserHome)> {
        let subject = self.subject.trim();
        if subject.is_empty() || subject.len() > MAX_SUBJECT_LEN {
            return Err(bad_input(format!(
                "subject must be 1 to {MAX_SUBJECT_LEN} bytes"
            )));
        }
        let role = callvault_contracts::Role::from(self.role);
        let home = match (role, self.tenant_id, self.bpo_id) {
            (callvault_contracts::Role::PlatformAdmin, None, None) => UserHome::Platform,
            (callvault_contracts::Role::PlatformAdmin, _, _) => {
                return Err(bad_input("PLATFORM_ADMIN takes no tenantId or bpoId"));
            }
            (callvault_contracts::Role::BpoAdmin, None, Some(bpo)) => UserHome::Bpo(bpo),
            (callvault_contracts::Role::BpoAdmin, _, _) => {
                return Err(bad_input("BPO_ADMIN needs a bpoId and no tenantId"));
            }
            (role, Some(tenant), None) => UserHome::Tenant {
                tenant,
                role,
                agent_id: self.agent_id.clone(),
            },
            (_, _, _) => return Err(bad_input("tenant roles need a tenantId and no bpoId")),
        };
        if self.agent_id.is_some() && role != callvault_contracts::Role::Agent {
            return Err(bad_input("agentId is only for AGENT"));
        }
        if self
            .agent_id
            .as_ref()
            .is_some_and(|agent| agent.is_empty() || agent.len() > MAX_NAME_LEN)
        {
            return Err(bad_input(format!(
                "agentId must be 1 to {MAX_NAME_LEN} bytes"
            )));
        }
        Ok((subject.to_owned(), home))
    }
}

/// A trimmed, non-empty name of reasonable length.
pub(super) fn checked_name(name: &str, field: &str) -> async_graphql::Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(bad_input(format!(
            "{field} must be 1 to {MAX_NAME_LEN} bytes of printable text"
        )));
    }
    Ok(name.to_owned())
}
