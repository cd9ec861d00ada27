//! The handlers: check the caller, call the service, shape the JSON.

use std::sync::Arc;

use attest::protocol::{
    ActivateRequest, AttestationResult, Challenge, EnrollRequest, EnrollResponse, Evidence,
    NodeState,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiJson, HttpError};
use crate::ident::valid_agent_id;
use crate::pki::Caller;
use crate::service::Service;
use crate::storage::{kind_str, parse_state, rfc3339, state_str, AgentRecord};

type Svc = State<Arc<Service>>;
type Res<T> = Result<T, HttpError>;

fn require_operator(c: &Caller) -> Res<()> {
    match c {
        Caller::Operator => Ok(()),
        Caller::Agent(id) => Err(HttpError::forbidden(format!(
            "agent {id} may not call operator endpoints"
        ))),
        Caller::Other(cn) => Err(HttpError::forbidden(format!(
            "client certificate {cn:?} is neither the operator nor an agent"
        ))),
    }
}

fn require_agent(c: &Caller, id: &str) -> Res<()> {
    match c {
        Caller::Agent(me) if me == id => Ok(()),
        Caller::Agent(me) => Err(HttpError::forbidden(format!(
            "agent {me} may not act for agent {id}"
        ))),
        _ => Err(HttpError::forbidden(
            "only the agent itself (client certificate agent:<id>) may call this endpoint",
        )),
    }
}

fn check_id(id: &str) -> Res<()> {
    if valid_agent_id(id) {
        Ok(())
    } else {
        Err(HttpError::bad_request(format!(
            "invalid id {id:?}: use 1-64 of [A-Za-z0-9._-]"
        )))
    }
}

pub async fn health(Extension(_c): Extension<Caller>) -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        super::OPENAPI_JSON,
    )
}

pub async fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

// ---------------- agents ----------------

pub async fn enroll(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Res<Json<EnrollResponse>> {
    check_id(&req.agent_id)?;
    require_agent(&c, &req.agent_id)?;
    Ok(Json(s.enroll(req).await?))
}

pub async fn activate(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ActivateRequest>,
) -> Res<Json<AttestationResult>> {
    check_id(&id)?;
    require_agent(&c, &id)?;
    Ok(Json(s.activate(&id, req).await?))
}

pub async fn challenge(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Res<Json<Challenge>> {
    check_id(&id)?;
    require_agent(&c, &id)?;
    Ok(Json(s.challenge(&id).await?))
}

pub async fn evidence(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(ev): ApiJson<Evidence>,
) -> Res<Json<AttestationResult>> {
    check_id(&id)?;
    require_agent(&c, &id)?;
    Ok(Json(s.evidence(&id, ev).await?))
}

// ---------------- nodes ----------------

/// The JSON view of a node.
pub fn node_view(a: &AgentRecord) -> Value {
    json!({
        "id": a.id,
        "kind": kind_str(a.kind),
        "state": state_str(a.status.state),
        "reasons": a.status.reasons,
        "appraisal_state": state_str(a.status.appraisal_state),
        "manual_reason": a.status.manual_reason,
        "policy": a.policy,
        "host": a.host_id,
        "ek_issuer": a.ek_issuer,
        "hardware_root": a.hardware_root,
        "activated": a.activation_digest.is_none(),
        "attestations": a.attestations,
        "last_seen": (a.last_seen > 0).then(|| rfc3339(a.last_seen)),
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.updated_at),
    })
}

pub async fn list_nodes(State(s): Svc, Extension(c): Extension<Caller>) -> Res<Json<Value>> {
    require_operator(&c)?;
    let nodes: Vec<Value> = s
        .store
        .list()
        .await
        .map_err(crate::service::ServiceError::from)?
        .iter()
        .map(node_view)
        .collect();
    Ok(Json(Value::Array(nodes)))
}

pub async fn show_node(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    check_id(&id)?;
    let a = s.node(&id).await?;
    let mut v = node_view(&a);
    let transitions = s
        .store
        .transitions(&id, 50)
        .await
        .map_err(crate::service::ServiceError::from)?;
    v["transitions"] = json!(transitions
        .iter()
        .map(|t| json!({
            "at": rfc3339(t.at),
            "previous_state": t.previous_state,
            "state": t.state,
            "reasons": t.reasons,
            "replica": t.replica,
        }))
        .collect::<Vec<_>>());
    v["vms"] = json!(s
        .store
        .vms_of(&id)
        .await
        .map_err(crate::service::ServiceError::from)?
        .iter()
        .map(|vm| vm.id.clone())
        .collect::<Vec<_>>());
    Ok(Json(v))
}

pub async fn delete_node(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Res<StatusCode> {
    require_operator(&c)?;
    check_id(&id)?;
    s.delete_node(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateBody {
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

pub async fn set_state(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StateBody>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    check_id(&id)?;
    let state: NodeState = parse_state(&body.state).ok_or_else(|| {
        HttpError::bad_request(format!(
            "unknown state {:?}: use \"failed\" or \"enrolled\"",
            body.state
        ))
    })?;
    let a = s.set_manual_state(&id, state, body.reason).await?;
    Ok(Json(node_view(&a)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    policy: String,
}

pub async fn set_policy(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PolicyRef>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    check_id(&id)?;
    let a = s.assign_policy(&id, &body.policy).await?;
    Ok(Json(node_view(&a)))
}

pub async fn ear(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    check_id(&id)?;
    let a = s.node(&id).await?;
    let token = crate::ear::token_for(&s.ear, &a).map_err(|e| {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    })?;
    Ok(Json(json!({ "token": token })))
}

pub async fn jwks(State(s): Svc, Extension(_c): Extension<Caller>) -> Json<Value> {
    Json(s.ear.jwks())
}

// ---------------- policies ----------------

pub async fn list_policies(State(s): Svc, Extension(c): Extension<Caller>) -> Res<Json<Value>> {
    require_operator(&c)?;
    let list = s
        .store
        .list_policies()
        .await
        .map_err(crate::service::ServiceError::from)?;
    let v: Vec<Value> = list
        .iter()
        .map(|(_, body)| serde_json::from_str(body).unwrap_or(Value::Null))
        .collect();
    Ok(Json(Value::Array(v)))
}

pub async fn show_policy(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    let body = s
        .store
        .get_policy(&name)
        .await
        .map_err(crate::service::ServiceError::from)?
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no policy {name:?}"),
            )
        })?;
    Ok(Json(serde_json::from_str(&body).unwrap_or(Value::Null)))
}

pub async fn put_policy(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Path(name): Path<String>,
    body: String,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    let p = s.put_policy(&name, &body).await?;
    Ok(Json(
        serde_json::from_str(&p.to_json()).unwrap_or(Value::Null),
    ))
}

// ---------------- webhooks ----------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    url: String,
}

pub async fn list_webhooks(State(s): Svc, Extension(c): Extension<Caller>) -> Res<Json<Value>> {
    require_operator(&c)?;
    let hooks = s
        .store
        .list_webhooks()
        .await
        .map_err(crate::service::ServiceError::from)?;
    Ok(Json(json!(hooks)))
}

pub async fn add_webhook(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    ApiJson(body): ApiJson<WebhookBody>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    let ok = body.url.len() <= 2048
        && (body.url.starts_with("http://") || body.url.starts_with("https://"))
        && reqwest::Url::parse(&body.url).is_ok();
    if !ok {
        return Err(HttpError::bad_request(format!(
            "webhook url {:?} must be an absolute http:// or https:// URL",
            body.url
        )));
    }
    s.store
        .add_webhook(&body.url, crate::storage::now_ms())
        .await
        .map_err(crate::service::ServiceError::from)?;
    list_webhooks(State(s), Extension(c)).await
}

#[derive(Deserialize)]
pub struct WebhookQuery {
    url: Option<String>,
}

pub async fn delete_webhooks(
    State(s): Svc,
    Extension(c): Extension<Caller>,
    Query(q): Query<WebhookQuery>,
) -> Res<Json<Value>> {
    require_operator(&c)?;
    let n = s
        .store
        .delete_webhooks(q.url.as_deref())
        .await
        .map_err(crate::service::ServiceError::from)?;
    Ok(Json(json!({ "deleted": n })))
}
