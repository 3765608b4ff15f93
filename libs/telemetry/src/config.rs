//! What the environment asks of telemetry: the log filter and format, and
//! the standard OpenTelemetry variables we honour.

use std::collections::HashMap;

use opentelemetry_sdk::trace::Sampler;
use tracing_subscriber::EnvFilter;

/// The log filter when `CALLVAULT_LOG` is unset: migrations log every
/// statement at info, and OpenTelemetry its set-up (its export failures
/// are warnings and errors).
pub const DEFAULT_LOG_FILTER: &str = "info,sea_orm_migration=warn,opentelemetry=warn";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line, for log shippers (`CALLVAULT_LOG_FORMAT=json`).
    Json,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `CALLVAULT_LOG`, an `EnvFilter` directive.
    pub log_filter: String,
    pub log_format: LogFormat,
    /// Where spans go over OTLP/gRPC: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// else `OTEL_EXPORTER_OTLP_ENDPOINT`. `None`: nothing is exported.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`;
    /// `None`: the default the binary gives.
    pub service_name: Option<String>,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`; by default every
    /// trace a caller didn't decide against (`parentbased_always_on`).
    pub sampler: Sampler,
    /// `OTEL_SDK_DISABLED=true`: no OpenTelemetry at all, so no trace ids in
    /// the logs and nothing propagated.
    pub sdk_disabled: bool,
    /// Settings that were ignored, and why: logged once logging is up.
    pub problems: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            log_filter: DEFAULT_LOG_FILTER.to_owned(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            service_name: None,
            sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            sdk_disabled: false,
            problems: Vec::new(),
        }
    }
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// The configuration these variables describe (tests pass their own:
    /// a process can't safely change its environment once threads run).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .collect();
        let get = |name: &str| vars.get(name).map(|value| value.trim());
        let mut config = Config::default();
        match get("CALLVAULT_LOG") {
            None => {}
            Some(filter) if EnvFilter::try_new(filter).is_ok() => {
                config.log_filter = filter.to_owned();
            }
            Some(_) => config.problems.push(format!(
                "CALLVAULT_LOG is not a valid filter: using {DEFAULT_LOG_FILTER}"
            )),
        }
        match get("CALLVAULT_LOG_FORMAT").map(str::to_ascii_lowercase) {
            None => {}
            Some(format) if format == "json" => config.log_format = LogFormat::Json,
            Some(format) if format == "text" => {}
            Some(other) => config.problems.push(format!(
                "CALLVAULT_LOG_FORMAT={other} is neither text nor json: logging text"
            )),
        }
        config.sdk_disabled =
            get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        config.service_name = get("OTEL_SERVICE_NAME")
            .map(str::to_owned)
            .or_else(|| get("OTEL_RESOURCE_ATTRIBUTES").and_then(service_name_attribute));
        config.sampler = sampler(
            get("OTEL_TRACES_SAMPLER"),
            get("OTEL_TRACES_SAMPLER_ARG"),
            &mut config.problems,
        );
        let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .map(str::to_owned);
        let exporter = get("OTEL_TRACES_EXPORTER").unwrap_or("otlp");
        let protocol = get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .unwrap_or("grpc");
        config.otlp_endpoint = match (endpoint, exporter, protocol) {
            (None, _, _) | (_, "none", _) => None,
            (Some(_), exporter, _) if exporter != "otlp" => {
                config.problems.push(format!(
                    "OTEL_TRACES_EXPORTER={exporter} is not supported (only otlp and none): \
                     traces are not exported"
                ));
                None
            }
            (Some(_), _, protocol) if protocol != "grpc" => {
                // An http/protobuf endpoint (usually port 4318) doesn't speak
                // gRPC: sending there would only fail on every batch.
                config.problems.push(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported (only grpc): \
                     traces are not exported"
                ));
                None
            }
            (Some(endpoint), _, _) => Some(endpoint),
        };
        if config.sdk_disabled {
            config.otlp_endpoint = None;
        }
        config
    }
}

/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key=value`,
/// values percent-encoded).
fn service_name_attribute(attributes: &str) -> Option<String> {
    attributes.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == "service.name").then(|| percent_decode(value.trim()))
    })
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The sampler the OpenTelemetry specification's variables name.
fn sampler(name: Option<&str>, arg: Option<&str>, problems: &mut Vec<String>) -> Sampler {
    let mut ratio = || match arg.map(str::parse::<f64>) {
        None => 1.0,
        Some(Ok(ratio)) if (0.0..=1.0).contains(&ratio) => ratio,
        Some(_) => {
            problems.push("OTEL_TRACES_SAMPLER_ARG is not a ratio between 0 and 1: using 1".into());
            1.0
        }
    };
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    match name.unwrap_or("parentbased_always_on") {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()),
        "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
        "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
        "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatioBased(ratio())),
        other => {
            problems.push(format!(
                "OTEL_TRACES_SAMPLER={other} is not supported: using parentbased_always_on"
            ));
            parent_based(Sampler::AlwaysOn)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn nothing_set_exports_nothing_and_logs_text() {
        let config = config(&[]);
        assert_eq!(config.otlp_endpoint, None);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.log_filter, DEFAULT_LOG_FILTER);
        assert!(config.problems.is_empty());
    }

    #[test]
    fn the_traces_endpoint_wins_over_the_generic_one() {
        let config = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ]);
        assert_eq!(config.otlp_endpoint.as_deref(), Some("http://traces:4317"));
        let config = self::config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317")]);
        assert_eq!(config.otlp_endpoint.as_deref(), Some("http://generic:4317"));
    }

    #[test]
    fn an_exporter_we_cannot_honour_is_off_and_said_so() {
        for vars in [
            [("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")],
            [("OTEL_TRACES_EXPORTER", "zipkin")],
            [("OTEL_SDK_DISABLED", "true")],
        ] {
            let mut all = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")];
            all.extend(vars);
            let config = config(&all);
            assert_eq!(config.otlp_endpoint, None, "{vars:?}");
        }
        let none = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ]);
        assert_eq!(none.otlp_endpoint, None);
        assert!(none.problems.is_empty());
    }

    #[test]
    fn the_service_name_comes_from_the_name_then_the_attributes() {
        let config = config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod,service.name=callvault%2Dgateway",
        )]);
        assert_eq!(config.service_name.as_deref(), Some("callvault-gateway"));
        let config = self::config(&[
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes"),
            ("OTEL_SERVICE_NAME", "from-name"),
        ]);
        assert_eq!(config.service_name.as_deref(), Some("from-name"));
    }

    #[test]
    fn samplers_follow_the_specification_names() {
        let sampler = |name: &str, arg: Option<&str>| {
            let mut problems = Vec::new();
            let sampler = super::sampler(Some(name), arg, &mut problems);
            (format!("{sampler:?}"), problems.len())
        };
        assert_eq!(sampler("always_off", None), ("AlwaysOff".into(), 0));
        assert_eq!(
            sampler("traceidratio", Some("0.25")),
            ("TraceIdRatioBased(0.25)".into(), 0)
        );
        assert_eq!(
            sampler("parentbased_traceidratio", Some("2")).1,
            1,
            "a ratio above 1 is refused"
        );
        assert_eq!(sampler("xray", None).1, 1);
    }

    #[test]
    fn json_logs_on_request() {
        let config = config(&[("CALLVAULT_LOG_FORMAT", "JSON"), ("CALLVAULT_LOG", "debug")]);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.log_filter, "debug");
    }
}
