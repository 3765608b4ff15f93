//! The GraphQL schema: types, the query and mutation roots, and limits.
//!
//! Resolvers parse and check their input, then get a scoped handle from
//! [`crate::access`] for what they need; they hold no other way to the
//! metadata service.

mod billing;
mod billing_enums;
mod billing_inputs;
mod billing_types;
mod disclosure;
mod disclosure_enums;
mod disclosure_inputs;
mod disclosure_settings;
mod disclosure_types;
mod error_codes;
mod inputs;
mod lifecycle_inputs;
mod lifecycle_mutation;
mod lifecycle_types;
mod mutation;
mod offboarding;
mod operation_span;
mod query;
mod recording_policy;
mod recordings;
mod scalars;
mod tenant_lifecycle;
mod typename_budget;
mod types;
mod webhooks;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use callvault_bus::RpcClient;

use crate::access::{Backend, PublicLifecycle};
use crate::playback::PlaybackLinks;

pub use query::Query;

// The mutation root: the tenancy, lifecycle, recording-policy, offboarding,
// disclosure, billing and webhook mutations (a comment, not a doc comment:
// doc comments become the public SDL).
#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::TenancyMutation,
    lifecycle_mutation::LifecycleMutation,
    recording_policy::RecordingPolicyMutation,
    offboarding::OffboardingMutation,
    disclosure::DisclosureMutation,
    billing::BillingMutation,
    webhooks::WebhooksMutation,
);

pub type GatewaySchema = Schema<Query, Mutation, EmptySubscription>;

/// The deepest query accepted. Data queries here are at most 6 deep (the
/// schema has no cycles; e.g. `recordings.edges.node.lifecycle.rule.id`);
/// the deepest legitimate query is GraphiQL's introspection query at 13 (`__schema.types.fields.args.type` and seven
/// `ofType`s). Introspection stays on, since GraphiQL needs it and the SDL
/// is public anyway; this limit is what bounds its nesting.
pub const MAX_DEPTH: usize = 15;

/// The most fields one query may select (each field counts 1, `__typename`
/// included), which stops alias-multiplied queries. A full page of recordings with every field is
/// about 60.
pub const MAX_COMPLEXITY: usize = 1000;

/// The schema, wired to the services (over `rpc`) and the playback signer;
/// `introspection: false` refuses `__schema` and `__type` (the
/// `auth.introspection` setting).
pub fn build_schema(rpc: RpcClient, playback: PlaybackLinks, introspection: bool) -> GatewaySchema {
    let builder = Schema::build(Query, Mutation::default(), EmptySubscription);
    let builder = if introspection {
        builder
    } else {
        builder.disable_introspection()
    };
    builder
        .data(PublicLifecycle::new(rpc.clone()))
        .data(Backend::new(rpc))
        .data(playback)
        // Before the error codes: it reads the codes that one sets.
        .extension(operation_span::OperationSpan)
        .extension(error_codes::DefaultErrorCode)
        .extension(typename_budget::TypenameBudget)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema's SDL, as checked in at schema/schema.graphql.
pub fn sdl() -> String {
    Schema::build(Query, Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}
