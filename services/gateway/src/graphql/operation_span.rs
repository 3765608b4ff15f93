//! One span per GraphQL operation: its type, its name, the root fields it
//! selects and the error codes of its answer. Never its variables, its
//! arguments or its query text, which carry phone numbers, names and free
//! text. (async-graphql's own `Tracing` extension records the query text
//! with the variables substituted, and a span per field.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Request, Response, ServerResult, Value, Variables};
use tracing::field::Empty;
use tracing::{Instrument, Span};

pub(super) struct OperationSpan;

impl ExtensionFactory for OperationSpan {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationSpanExtension::default())
    }
}

/// One request's state: the extension is created per request.
#[derive(Default)]
struct OperationSpanExtension {
    span: OnceLock<Span>,
    /// The operation the request asked to run, when it named one.
    operation_name: OnceLock<String>,
    /// The parsed operation, until it runs.
    operation: Mutex<Option<Parsed>>,
}

struct Parsed {
    kind: OperationType,
    named: bool,
    root_fields: Vec<String>,
}

impl OperationSpanExtension {
    fn span(&self) -> Span {
        self.span.get().cloned().unwrap_or_else(Span::none)
    }
}

#[async_trait::async_trait]
impl Extension for OperationSpanExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        // Named `graphql` until parsed; renamed `query searchCalls`, or
        // after its root fields (`query recordings`) when anonymous.
        let span = tracing::info_span!(
            "graphql operation",
            otel.name = "graphql",
            graphql.operation.type = Empty,
            graphql.operation.name = Empty,
            graphql.root_fields = Empty,
            graphql.error_codes = Empty,
        );
        let span = self.span.get_or_init(|| span).clone();
        let response = next.run(ctx).instrument(span.clone()).await;
        if !response.errors.is_empty() {
            span.record("graphql.error_codes", error_codes(&response).as_str());
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some(name) = &request.operation_name {
            let _ = self.operation_name.set(name.clone());
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
        let wanted = self.operation_name.get().map(String::as_str);
        let operation = document
            .operations
            .iter()
            .find(|(name, _)| wanted.is_none() || name.map(|name| name.as_str()) == wanted);
        if let Some((name, operation)) = operation {
            let span = self.span();
            let kind = operation.node.ty;
            span.record("graphql.operation.type", kind.to_string().as_str());
            // A name is a GraphQL identifier the client chose: no data.
            if let Some(name) = name {
                span.record("graphql.operation.name", name.as_str());
                callvault_telemetry::set_span_name(&span, format!("{kind} {name}"));
            }
            let root_fields = operation
                .node
                .selection_set
                .node
                .items
                .iter()
                .filter_map(|selection| match &selection.node {
                    // The field's name, never its alias (client text).
                    Selection::Field(field) => Some(field.node.name.node.to_string()),
                    _ => None,
                })
                .collect();
            if let Ok(mut slot) = self.operation.lock() {
                *slot = Some(Parsed {
                    kind,
                    named: name.is_some(),
                    root_fields,
                });
            }
        }
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // Only a validated operation gets here: its root fields are the
        // schema's, not whatever a client typed.
        let parsed = self.operation.lock().ok().and_then(|mut slot| slot.take());
        if let Some(parsed) = parsed {
            let span = self.span();
            let root_fields = parsed.root_fields.join(",");
            span.record("graphql.root_fields", root_fields.as_str());
            if !parsed.named {
                let name = format!("{} {root_fields}", parsed.kind);
                callvault_telemetry::set_span_name(&span, name);
            }
        }
        next.run(ctx, operation_name).await
    }
}

/// The distinct `extensions.code`s of the response's errors.
fn error_codes(response: &Response) -> String {
    let codes: BTreeSet<String> = response
        .errors
        .iter()
        .filter_map(|error| error.extensions.as_ref()?.get("code"))
        .filter_map(|code| match code {
            Value::String(code) => Some(code.clone()),
            Value::Enum(code) => Some(code.to_string()),
            _ => None,
        })
        .collect();
    codes.into_iter().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, ErrorExtensions, Object, Schema};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    const PHONE: &str = "819012345678";

    struct Query;

    #[Object]
    impl Query {
        async fn echo(&self, phone: String) -> String {
            phone
        }

        async fn refuse(&self) -> async_graphql::Result<String> {
            Err(async_graphql::Error::new("no").extend_with(|_, e| e.set("code", "FORBIDDEN")))
        }
    }

    /// The one span `request` produced, checked for the phone number.
    async fn operation_span(request: Request) -> SpanData {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(OperationSpan)
            .finish();
        schema.execute(request).await;
        let spans = exporter.get_finished_spans().expect("spans");
        assert_eq!(spans.len(), 1, "{spans:?}");
        let span = spans.into_iter().next().expect("one span");
        assert!(!format!("{span:?}").contains(PHONE), "{span:?}");
        span
    }

    fn attribute(span: &SpanData, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    #[tokio::test]
    async fn a_named_operation_records_its_name_never_its_variables() {
        let request = Request::new("query Lookup($p: String!) { echo(phone: $p) }")
            .variables(Variables::from_json(serde_json::json!({ "p": PHONE })));
        let span = operation_span(request).await;
        assert_eq!(span.name, "query Lookup");
        assert_eq!(
            attribute(&span, "graphql.operation.type").as_deref(),
            Some("query")
        );
        assert_eq!(
            attribute(&span, "graphql.operation.name").as_deref(),
            Some("Lookup")
        );
        assert_eq!(
            attribute(&span, "graphql.root_fields").as_deref(),
            Some("echo")
        );
    }

    #[tokio::test]
    async fn an_anonymous_operation_is_named_by_its_root_fields_not_its_literals() {
        let request = Request::new(format!("{{ mine: echo(phone: \"+{PHONE}\") refuse }}"));
        let span = operation_span(request).await;
        assert_eq!(span.name, "query echo,refuse");
        assert_eq!(
            attribute(&span, "graphql.error_codes").as_deref(),
            Some("FORBIDDEN")
        );
        assert!(!format!("{span:?}").contains("mine"), "{span:?}");
    }
}
