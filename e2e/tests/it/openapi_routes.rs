//! schema/openapi.yaml lists exactly the binary's HTTP routes: every path
//! the services mount (read from their sources), and on the running binary
//! exactly the documented methods of each (any other answers 405).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use callvault_e2e::Callvault;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const METHODS: [&str; 6] = ["get", "head", "post", "put", "delete", "patch"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn document() -> Value {
    let text = std::fs::read_to_string(repo().join("schema/openapi.yaml")).expect("the document");
    serde_norway::from_str(&text).expect("valid yaml")
}

/// `/v1/playback/{tenant}/{recording}` → `/v1/playback/{}/{}`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The string literal right after each `web::resource(` and `.route(` (the
/// metadata service's bus `.route(service, …)` has none).
fn mounted_paths(source: &str) -> Vec<String> {
    // Unit tests at the end of a file mount routes of their own.
    let source = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut paths = Vec::new();
    for marker in ["web::resource(", ".route("] {
        for (at, _) in source.match_indices(marker) {
            let rest = source[at + marker.len()..].trim_start();
            if let Some(literal) = rest.strip_prefix('"')
                && let Some(end) = literal.find('"')
                && literal.starts_with('/')
            {
                paths.push(literal[..end].to_owned());
            }
        }
    }
    paths
}

#[test]
fn the_document_lists_every_mounted_path() {
    let mut files = Vec::new();
    for root in ["services", "libs"] {
        for crate_dir in std::fs::read_dir(repo().join(root))
            .expect("crates")
            .flatten()
        {
            let src = crate_dir.path().join("src");
            if src.is_dir() {
                rust_sources(&src, &mut files);
            }
        }
    }
    let mounted: BTreeSet<String> = files
        .iter()
        .flat_map(|file| mounted_paths(&std::fs::read_to_string(file).expect("source")))
        .map(|path| shape(&path))
        .collect();
    let documented: BTreeSet<String> = document()["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(|path| shape(path))
        .collect();
    assert_eq!(documented, mounted, "documented paths vs mounted ones");
}

#[tokio::test]
async fn the_binary_serves_exactly_the_documented_methods() {
    let cv = Callvault::start_embedded().await;
    let client = reqwest::Client::new();
    let document = document();
    let mut checked = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        // Any uuid will do: the route is found before the ids are read.
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "0b7c3f4e-6a53-4c1a-9c55-0c3b0a8e1d2f"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let documented = item.get(method).is_some();
            let response = client
                .request(
                    Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"),
                    format!("{}{concrete}", cv.base_url),
                )
                .send()
                .await
                .expect("request");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            if documented {
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is documented"
                );
                // A handler's 404 (no such tenant), not the router's.
                if status == StatusCode::NOT_FOUND {
                    let body: Value = serde_json::from_slice(&body).expect("a json error");
                    assert_ne!(
                        body["error"]["message"], "no such route",
                        "{method} {path}: the router found no route"
                    );
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is not documented"
                );
            }
            checked.insert(format!("{method} {path}"), status.as_u16());
        }
    }
    assert_eq!(
        checked.len(),
        document["paths"].as_object().map_or(0, |p| p.len()) * METHODS.len()
    );
}
