//! Makes `__typename` count toward [`MAX_COMPLEXITY`](super::MAX_COMPLEXITY).
//!
//! async-graphql's complexity visitor never sees `__typename` (its
//! validation walks past it), so `{ a1: __typename a2: __typename … }`
//! would cost nothing however many aliases it had, and the response grows
//! with them. This extension counts the `__typename` selections of the
//! operation that runs, fragments expanded as often as they are spread,
//! and refuses the query when they and async-graphql's own count together
//! pass the limit, with async-graphql's own message.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};

use super::MAX_COMPLEXITY;

/// Fragments nested deeper than this are not followed. Validation refuses
/// cycles anyway, and fifteen levels of fields ([`super::MAX_DEPTH`])
/// can't hold more fragments than that.
const MAX_FRAGMENT_NESTING: usize = 32;

pub(super) struct TypenameBudget;

impl ExtensionFactory for TypenameBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(TypenameBudgetExtension::default())
    }
}

/// One request's state: the extension is created per request.
#[derive(Default)]
struct TypenameBudgetExtension {
    operation_name: Mutex<Option<String>>,
    typenames: Mutex<usize>,
}

#[async_trait::async_trait]
impl Extension for TypenameBudgetExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut slot) = self.operation_name.lock() {
            slot.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let wanted = self
            .operation_name
            .lock()
            .ok()
            .and_then(|slot| slot.clone());
        let operation = document.operations.iter().find(|(name, _)| {
            wanted.is_none() || name.map(|name| name.as_str()) == wanted.as_deref()
        });
        if let Some((_, operation)) = operation {
            let count = count_typenames(&document, &operation.node.selection_set.node, 0);
            if let Ok(mut slot) = self.typenames.lock() {
                *slot = count;
            }
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let typenames = self.typenames.lock().map(|count| *count).unwrap_or(0);
        if result.complexity.saturating_add(typenames) > MAX_COMPLEXITY {
            return Err(vec![ServerError::new("Query is too complex.", None)]);
        }
        Ok(result)
    }
}

/// The `__typename` selections under `set`, stopping once past the limit
/// (a query built to be expensive to count is refused all the same).
fn count_typenames(document: &ExecutableDocument, set: &SelectionSet, nesting: usize) -> usize {
    let mut count = 0usize;
    for selection in &set.items {
        if count > MAX_COMPLEXITY {
            break;
        }
        count += match &selection.node {
            Selection::Field(field) if field.node.name.node == "__typename" => 1,
            Selection::Field(field) => {
                count_typenames(document, &field.node.selection_set.node, nesting)
            }
            Selection::InlineFragment(fragment) => {
                count_typenames(document, &fragment.node.selection_set.node, nesting)
            }
            Selection::FragmentSpread(spread) if nesting < MAX_FRAGMENT_NESTING => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |fragment| {
                    count_typenames(document, &fragment.node.selection_set.node, nesting + 1)
                }),
            Selection::FragmentSpread(_) => 0,
        };
    }
    count
}
