//! Time to first byte of a ranged playback request at the start vs near the
//! end of a 1 GiB recording, through the real HTTP endpoint, on the embedded
//! backends (filesystem blobs, local keyring, SQLite). Only the frames a
//! range needs are fetched and decrypted, so the two should be equal.
//!
//! Run: cargo bench -p callvault-storage --bench playback

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use callvault_auth::signed_url::UrlSigner;
use callvault_blob::fs::FsBlobStore;
use callvault_contracts::{RecordingId, TenantId};
use callvault_keys::KeyProvider;
use callvault_keys::local::LocalKeyring;
use callvault_storage::RecordingStore;
use callvault_storage::playback::{self, PlaybackState, playback_path};
use callvault_storage::records::{self, StorageRecords};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::StreamExt;

const GIB: u64 = 1 << 30;
const CHUNK: usize = 1 << 20;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let (tenant, recording) = (TenantId::new(), RecordingId::new());
    let signer = UrlSigner::new(&[42u8; 32]).expect("secret");

    let base = runtime.block_on(async {
        let keys = Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).expect("keyring"));
        let db = records::connect(&format!(
            "sqlite://{}",
            dir.path().join("storage.db").display()
        ))
        .await
        .expect("records");
        let store = Arc::new(RecordingStore::new(
            Arc::new(FsBlobStore::new(dir.path().join("blobs"))),
            keys.clone(),
            StorageRecords::new(db),
        ));
        let key = keys
            .create_tenant_key(&tenant.to_string())
            .await
            .expect("key");
        let chunk = Bytes::from(vec![0x5a; CHUNK]);
        let body =
            futures_util::stream::iter((0..GIB / CHUNK as u64).map(move |_| Ok(chunk.clone())))
                .boxed();
        store
            .store(tenant, recording, &key, body)
            .await
            .expect("store 1 GiB");

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = actix_web::web::Data::new(PlaybackState {
            store,
            signer: signer.clone(),
        });
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new().configure(playback::configure(state.clone()))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        format!("http://127.0.0.1:{port}")
    });

    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600;
    let url = format!(
        "{base}{}",
        playback_path(&signer, tenant, recording, expires)
    );
    let client = reqwest::Client::new();

    let mut group = c.benchmark_group("ttfb_1GiB");
    for (name, range) in [
        ("range_at_start", "bytes=0-".to_owned()),
        ("range_near_end", format!("bytes={}-", GIB - 100_000)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let mut response = client
                        .get(&url)
                        .header("range", &range)
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(response.status(), 206);
                    // The first body chunk is the first byte a player gets.
                    response
                        .chunk()
                        .await
                        .expect("chunk")
                        .expect("a first chunk")
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
