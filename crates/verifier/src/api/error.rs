//! Every error of the API is a status code with a `protocol::ApiError`
//! body, so clients always get a machine-readable code and a reason.

use attest::protocol::ApiError;
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

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
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
