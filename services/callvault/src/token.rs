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
    println!("{}", mint(config, args)?);
    Ok(())
}

/// The token `args` ask for, signed with the deployment's HS256 secret.
fn mint(config: &Config, args: &TokenArgs) -> anyhow::Result<String> {
    let role = Role::parse(&args.role).with_context(|| format!("unknown role {:?}", args.role))?;
    if role.is_tenant_role() && args.tenant.is_none() {
        bail!("role {} needs --tenant", role.as_str());
    }
    if role == Role::BpoAdmin && args.bpo.is_none() {
        bail!("role bpo_admin needs --bpo");
    }
    // The gateway would refuse it: say so now, not at the first request.
    if args.ttl > config.auth.max_token_lifetime_secs {
        bail!(
            "--ttl {} is longer than auth.max_token_lifetime_secs ({})",
            args.ttl,
            config.auth.max_token_lifetime_secs
        );
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
    callvault_gateway::issue_hs256(
        &secrets.jwt_hs256,
        &issuer(config),
        &audience(config),
        &actor,
        Duration::from_secs(args.ttl),
    )
    .context("cannot mint the token")
}

#[cfg(test)]
mod tests {
    use callvault_gateway::{AuthConfig, TokenVerifier};
    use clap::Parser;

    use super::*;
    use crate::config::tests::load;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        token: TokenArgs,
    }

    fn args(argv: &[&str]) -> TokenArgs {
        Cli::try_parse_from(std::iter::once("token").chain(argv.iter().copied()))
            .expect("arguments")
            .token
    }

    #[tokio::test]
    async fn minted_tokens_verify_with_the_deployments_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = load(
            None,
            &[("CALLVAULT_DATA_DIR", &dir.path().display().to_string())],
        )
        .expect("config");
        let tenant = "0b7e4a4c-2f7d-4a39-9a57-1c7c1d3f0e11";
        let token = mint(
            &config,
            &args(&["--role", "agent", "--tenant", tenant, "--agent", "a-1"]),
        )
        .expect("token");

        let secrets = Secrets::load_or_generate(&config).expect("secrets");
        let mut auth = AuthConfig::new(issuer(&config), audience(&config));
        auth.hs256_secret = Some(secrets.jwt_hs256);
        let verifier = TokenVerifier::new(auth).await.expect("verifier");
        let actor = verifier.verify(&token).await.expect("verifies");
        assert_eq!(actor.role, Role::Agent);
        assert_eq!(actor.subject, "admin");
        assert_eq!(
            actor.tenant_id.map(|t| t.0.to_string()).as_deref(),
            Some(tenant)
        );
        assert_eq!(actor.agent_id.as_deref(), Some("a-1"));
    }

    #[test]
    fn roles_need_their_scope() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = load(
            None,
            &[("CALLVAULT_DATA_DIR", &dir.path().display().to_string())],
        )
        .expect("config");
        for (argv, expected) in [
            (&["--role", "root"][..], "unknown role \"root\""),
            (
                &["--role", "supervisor"][..],
                "role supervisor needs --tenant",
            ),
            (&["--role", "bpo_admin"][..], "role bpo_admin needs --bpo"),
        ] {
            let error = mint(&config, &args(argv)).expect_err("refused");
            assert_eq!(error.to_string(), expected);
        }
        // Refused before any secret is generated.
        assert!(!dir.path().join("secrets").exists());
    }
}
