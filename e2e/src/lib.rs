//! Drives the real `callvault` binary from the outside, as a user would:
//! start it, call its GraphQL and HTTP endpoints, stop it by its PID.

pub mod otlp;
pub mod peers;
mod process;
mod wav;

pub use otlp::{Collector, ReceivedSpan};
pub use peers::{OwnPostgres, OwnRabbit};
pub use process::{Callvault, binary};
pub use wav::{mulaw_wav, mulaw_wav_frames, pcm16_stereo_wav};

use serde_json::{Value, json};

/// A GraphQL call; returns `data`, or the first error's `extensions.code`.
pub async fn graphql(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Result<Value, String> {
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("not json: {e}"))?;
    if let Some(error) = body["errors"].as_array().and_then(|errors| errors.first()) {
        let code = error["extensions"]["code"].as_str().unwrap_or("NO_CODE");
        return Err(code.to_owned());
    }
    Ok(body["data"].clone())
}
