//! How the gateway starts: nothing of its own to open — it verifies tokens,
//! calls the services over the bus and serves GraphQL.

use std::sync::Arc;

use actix_web::web;
use callvault_bus::{Bus, RpcClient};
use callvault_runtime::Module;

use crate::{GatewayState, PlaybackLinks, TokenVerifier, UserActivity, UserPseudonyms, configure};

/// What the gateway needs from the process.
pub struct GatewayDependencies {
    pub verifier: Arc<TokenVerifier>,
    pub links: PlaybackLinks,
    /// Reaches every service.
    pub rpc: RpcClient,
    /// Where `user.active` is published.
    pub bus: Arc<dyn Bus>,
    /// The key of `user.active`'s pseudonyms: `UserPseudonyms::derive`
    /// of the deployment's `secrets.pii`.
    pub pseudonyms: UserPseudonyms,
    /// Whether GraphQL introspection is answered.
    pub introspection: bool,
}

pub fn start(deps: GatewayDependencies) -> Module {
    let activity = UserActivity::new(deps.bus, deps.pseudonyms);
    let state = web::Data::new(
        GatewayState::with_introspection(deps.verifier, deps.rpc, deps.links, deps.introspection)
            .with_activity(activity),
    );
    Module::new("gateway").with_http(move |config| configure(state.clone())(config))
}
