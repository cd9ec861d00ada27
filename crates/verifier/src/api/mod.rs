//! The REST API v1 (ISSUE5 "REST API v1"): axum routes over mutual TLS.
//! Who may call what is decided from the caller's client certificate
//! ([`crate::pki::Caller`]): agents only their own `/v1/agents/<id>/*`, the operator
//! the `/v1/nodes`, `/v1/policies`, `/v1/webhooks` and EAR endpoints.

mod error;
mod handlers;
pub mod server;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{get, post, put};
use axum::Router;

pub use error::{ApiJson, HttpError};

use crate::service::Service;

/// Largest evidence body: a quote, an event log and an IMA slice.
pub const EVIDENCE_LIMIT: usize = 64 * 1024 * 1024;
/// Largest policy body (a runtime policy lists many digests).
pub const POLICY_LIMIT: usize = 32 * 1024 * 1024;
/// Every other body.
pub const SMALL_LIMIT: usize = 256 * 1024;

/// The OpenAPI 3.1 document (also committed as docs/openapi.json).
pub const OPENAPI_JSON: &str = include_str!("../../../../docs/openapi.json");

/// Every route, as (method, OpenAPI path), for the documentation check.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("post", "/v1/agents/enroll"),
    ("post", "/v1/agents/{id}/activate"),
    ("post", "/v1/agents/{id}/challenge"),
    ("post", "/v1/agents/{id}/evidence"),
    ("get", "/v1/nodes"),
    ("get", "/v1/nodes/{id}"),
    ("delete", "/v1/nodes/{id}"),
    ("post", "/v1/nodes/{id}/state"),
    ("put", "/v1/nodes/{id}/policy"),
    ("get", "/v1/nodes/{id}/ear"),
    ("get", "/v1/ear/jwks"),
    ("get", "/v1/policies"),
    ("get", "/v1/policies/{name}"),
    ("put", "/v1/policies/{name}"),
    ("get", "/v1/webhooks"),
    ("put", "/v1/webhooks"),
    ("delete", "/v1/webhooks"),
];

/// The router of a process running everything (state: the service).
pub fn router(service: Arc<Service>) -> Router {
    router_for(service, crate::Role::All)
}

/// The router of a process with `role`: the registrar serves enrollment
/// and activation, the verifier everything else; both serve health, this
/// document and nothing that belongs to the other.
pub fn router_for(service: Arc<Service>, role: crate::Role) -> Router {
    use handlers::*;
    let mut r: Router<Arc<Service>> = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi));
    if role.registrar() {
        r = r
            .route("/v1/agents/enroll", post(enroll))
            .route("/v1/agents/{id}/activate", post(activate));
    }
    if role.verifier() {
        r = r
            .route("/v1/agents/{id}/challenge", post(challenge))
            .route(
                "/v1/agents/{id}/evidence",
                post(evidence).layer(DefaultBodyLimit::max(EVIDENCE_LIMIT)),
            )
            .route("/v1/nodes", get(list_nodes))
            .route("/v1/nodes/{id}", get(show_node).delete(delete_node))
            .route("/v1/nodes/{id}/state", post(set_state))
            .route("/v1/nodes/{id}/policy", put(set_policy))
            .route("/v1/nodes/{id}/ear", get(ear))
            .route("/v1/ear/jwks", get(jwks))
            .route("/v1/policies", get(list_policies))
            .route(
                "/v1/policies/{name}",
                get(show_policy).put(put_policy.layer(DefaultBodyLimit::max(POLICY_LIMIT))),
            )
            .route(
                "/v1/webhooks",
                get(list_webhooks).put(add_webhook).delete(delete_webhooks),
            );
    }
    r.fallback(not_found)
        .layer(DefaultBodyLimit::max(SMALL_LIMIT))
        .with_state(service)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::pki::Caller;

    /// Every documented route reaches a handler (not the fallback, not
    /// 405), so ROUTES (and docs/openapi.json, checked against ROUTES)
    /// cannot list a route the router lacks.
    #[tokio::test]
    async fn every_listed_route_is_routed() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::storage::Store::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
                .await
                .unwrap();
        let ear = crate::ear::EarSigner::load_or_create(&dir.path().join("ear.key"), "t").unwrap();
        let svc = Service::new(
            store,
            crate::service::ServiceConfig {
                interval: Duration::from_secs(2),
                replica_id: "t".into(),
                trust_anchors: vec![],
                software_anchors: vec![],
            },
            ear,
        );
        let app_service = svc.clone();
        let app = router(svc);
        for (method, path) in ROUTES {
            let uri = path.replace("{id}", "x").replace("{name}", "x");
            let mut req = Request::builder()
                .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
                .uri(&uri)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            req.extensions_mut().insert(Caller::Operator);
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_ne!(
                resp.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap();
            assert!(
                !String::from_utf8_lossy(&body).contains("no such endpoint"),
                "{method} {uri}: {status}"
            );
        }
        // A registrar-only process does not serve the verifier's routes.
        let reg = router_for(app_service.clone(), crate::Role::Registrar);
        let req = Request::builder()
            .uri("/v1/nodes")
            .body(Body::empty())
            .unwrap();
        let resp = reg.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let req = Request::builder()
            .uri("/v1/nope")
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }
}
