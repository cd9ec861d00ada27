//! REST API over real mutual TLS, SQLite storage, evidence from our TPM
//! engine in process.

mod common;

use common::scenarios;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_sqlite() {
    scenarios::full_flow(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ima_flow_sqlite() {
    scenarios::ima_flow(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rounds_sqlite() {
    scenarios::concurrent_rounds(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answers_sqlite() {
    scenarios::late_answers(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn software_root_sqlite() {
    scenarios::software_root(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_sqlite_file() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("shared.db").display());
    scenarios::two_replicas(url).await;
}

#[test]
fn openapi_document_lists_every_route() {
    scenarios::openapi_covers_routes(verifier::api::OPENAPI_JSON);
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ))
    .unwrap();
    assert_eq!(committed, verifier::api::OPENAPI_JSON);
}
