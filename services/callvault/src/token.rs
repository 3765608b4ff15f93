//! `callvault admin token`: mints an HS256 token with the deployment's own
//! secret. This is how the embedded mode gets its first platform admin; a
//! deployment behind an OIDC provider uses the provider's tokens instead.

use std::time::Duration;

use anyhow::{Context, bail};
use callvault_contracts::{Actor, BpoId, Role, TenantId};
use clap::Args;

use crate::config::Config;
use crate::secrets::Secrets;

pub const DEFAULT_ISSUER: &str = "callvault";
pub const DEFAULT_AUDIENCE: &str = "callvault";

#[derive(Args)]
pub struct TokenArgs {
    /// platform_admin, bpo_admin, tenant_admin, supervisor, agent,
    /// compliance_officer or auditor.
    #[arg(long, default_value = "platform_admin")]
    role: String,
    /// The token subject (a user id or e-mail).
    #[arg(long, default_value = "admin")]
    subject: String,
    /// The tenant, for tenant roles.
    #[arg(long)]
    tenant: Option<TenantId>,
    /// The BPO, for bpo_admin.
    #[arg(long)]
    bpo: Option<BpoId>,
    /// For agents: the agent id their calls carry.
    #[arg(long)]
    agent: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

pub fn issuer(config: &Config) -> String {
    config
        .auth
        .issuer
        .clone()
        .unwrap_or_else(|| DEFAULT_ISSUER.to_owned())
}

pub fn audience(config: &Config) -> String {
    config
        .auth
        .audience
        .clone()
        .unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned())
}

pub fn print_token(config: &Config, args: &TokenArgs) -> anyhow::Result<()> {
    let role = Role::parse(&args.role).with_context(|| format!("unknown role {:?}", args.role))?;
    if role.is_tenant_role() && args.tenant.is_none() {
        bail!("role {} needs --tenant", role.as_str());
    }
    if role == Role::BpoAdmin && args.bpo.is_none() {
        bail!("role bpo_admin needs --bpo");
    }
    let secrets = Secrets::load_or_generate(config)?;
    let actor = Actor {
        subject: args.subject.clone(),
        role,
        bpo_id: args.bpo,
        tenant_id: args.tenant,
        agent_id: args.agent.clone(),
        origin: None,
    };
    let token = callvault_gateway::issue_hs256(
        &secrets.jwt_hs256,
        &issuer(config),
        &audience(config),
        &actor,
        Duration::from_secs(args.ttl),
    );
    println!("{token}");
    Ok(())
}
