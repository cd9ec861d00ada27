//! Every error of the API is a status code with a `protocol::ApiError`
//! body, so clients always get a machine-readable code and a reason.

use attest::protocol::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::service::ServiceError;

/// An error response.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ApiError {
                error: self.code.to_string(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<ServiceError> for HttpError {
    fn from(e: ServiceError) -> Self {
        let msg = e.to_string();
        match e {
            ServiceError::BadRequest(_) => Self::new(StatusCode::BAD_REQUEST, "bad_request", msg),
            ServiceError::Forbidden(_) => Self::new(StatusCode::FORBIDDEN, "forbidden", msg),
            ServiceError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", msg),
            ServiceError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", msg),
            ServiceError::Unprocessable(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", msg)
            }
            ServiceError::Store(_) => {
                tracing::error!("{msg}");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", msg)
            }
        }
    }
}

/// `Json<T>` whose rejections (bad JSON, wrong content type, body too
/// large) are `ApiError` bodies with the reason.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    /// A plain `serde_json` parse first: axum's `Json` tracks the path of
    /// every field for its error message, which costs on every request. The
    /// message is produced by `Json` only when the body is refused.
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return match Json::<T>::from_request(req, state).await {
                Ok(Json(v)) => Ok(ApiJson(v)),
                Err(rej) => Err(json_rejection(rej)),
            };
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            let status = rej.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            };
            HttpError::new(status, code, rej.body_text())
        })?;
        match serde_json::from_slice::<T>(&bytes) {
            Ok(v) => Ok(ApiJson(v)),
            Err(_) => match Json::<T>::from_bytes(&bytes) {
                Ok(Json(v)) => Ok(ApiJson(v)),
                Err(rej) => Err(json_rejection(rej)),
            },
        }
    }
}

/// `Content-Type: application/json` or `application/<x>+json`, as axum's
/// `Json` requires.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    // Compared in place (media types are case-insensitive, RFC 9110
    // §8.3.1): no lowercased copy per request.
    let essence = ct.split(';').next().unwrap_or("").trim();
    let (prefix, suffix) = ("application/", "+json");
    let has_prefix = essence
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix));
    let has_suffix = essence
        .len()
        .checked_sub(suffix.len())
        .and_then(|at| essence.get(at..))
        .is_some_and(|s| s.eq_ignore_ascii_case(suffix));
    essence.eq_ignore_ascii_case("application/json")
        || (has_prefix && has_suffix && essence.len() > prefix.len() + suffix.len())
}

fn json_rejection(rej: JsonRejection) -> HttpError {
    let status = rej.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "bad_request",
    };
    // 422 (well-formed JSON of the wrong shape) is a bad request too.
    let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    HttpError::new(status, code, rej.body_text())
}

#[cfg(test)]
mod tests {
    use super::is_json;
    use axum::http::{header::CONTENT_TYPE, HeaderMap, HeaderValue};

    fn with(ct: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        h
    }

    #[test]
    fn json_media_types_are_recognised_in_any_case() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ;x=y",
            "application/problem+json",
            "APPLICATION/EAT+JSON",
        ] {
            assert!(is_json(&with(ct)), "{ct}");
        }
        for ct in [
            "text/json",
            "application/jsonx",
            "application/+json",
            "application/x-www-form-urlencoded",
            "",
            "json",
        ] {
            assert!(!is_json(&with(ct)), "{ct}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
