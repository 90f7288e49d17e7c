//! `POST /webhooks/sns`: an SNS HTTPS subscription (body is `text/plain` JSON). The message is
//! authenticated by [`sns_verify::verify`] (topic allow-list, certificate URL guard, signature)
//! before its content is read. A verified `SubscriptionConfirmation` from an allowed topic is
//! confirmed by a GET on its (validated) `SubscribeURL`.

use super::{IntakeState, Reject, Work, check_backpressure, is_ignorable, read_body, record, sns_verify};
use crate::finding::parse_event;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Confirms subscriptions. Production uses [`HttpsConfirmer`]; tests inject a recorder.
pub trait SubscriptionConfirmer: Send + Sync {
    fn confirm<'a>(&'a self, url: &'a url::Url) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// GETs the `SubscribeURL`, with a timeout, and never follows redirects off AWS.
pub struct HttpsConfirmer {
    client: reqwest::Client,
}

impl HttpsConfirmer {
    pub fn new() -> Result<HttpsConfirmer, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpsConfirmer { client })
    }
}

impl SubscriptionConfirmer for HttpsConfirmer {
    fn confirm<'a>(&'a self, url: &'a url::Url) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let res = self.client.get(url.clone()).send().await.map_err(|e| e.without_url().to_string())?;
            if res.status().is_success() { Ok(()) } else { Err(format!("SNS answered {}", res.status())) }
        })
    }
}

pub async fn handle(
    State(state): State<IntakeState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Reject> {
    let bytes = read_body(&headers, body, state.settings.body_limit).await?;
    let msg = sns_verify::verify(&bytes, &state.settings.sns_topic_arns, state.certs.as_ref()).await.map_err(|e| {
        state.metrics.event("sns", "rejected");
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
        Reject::new(status, e.to_string())
    })?;
    let text = String::from_utf8_lossy(&bytes);
    match msg.kind {
        sns_verify::SnsKind::Notification => match parse_event(msg.message.as_bytes()) {
            Ok(f) => {
                check_backpressure(&state).await?;
                record(&state, "sns", &msg.message_id, &text, Work::Finding(Box::new(f))).await
            }
            Err(e) if is_ignorable(&e) => record(&state, "sns", &msg.message_id, &text, Work::Nothing).await,
            Err(e) => {
                state.metrics.event("sns", "malformed");
                Err(Reject::new(StatusCode::BAD_REQUEST, format!("SNS message: {e}")))
            }
        },
        sns_verify::SnsKind::SubscriptionConfirmation => {
            let url = msg
                .subscribe_url
                .as_deref()
                .ok_or_else(|| Reject::new(StatusCode::BAD_REQUEST, "SubscriptionConfirmation without SubscribeURL"))
                .and_then(|u| {
                    sns_verify::validate_subscribe_url(u).map_err(|e| Reject::new(StatusCode::FORBIDDEN, e.to_string()))
                })?;
            state.confirmer.confirm(&url).await.map_err(|e| {
                tracing::warn!(topic = %msg.topic_arn, error = %e, "subscription confirmation failed");
                Reject::new(StatusCode::SERVICE_UNAVAILABLE, "could not confirm the subscription; SNS will retry")
            })?;
            tracing::info!(topic = %msg.topic_arn, "SNS subscription confirmed");
            record(&state, "sns", &msg.message_id, &text, Work::Nothing).await
        }
        sns_verify::SnsKind::UnsubscribeConfirmation => {
            tracing::warn!(topic = %msg.topic_arn, "SNS reports the subscription was removed");
            record(&state, "sns", &msg.message_id, &text, Work::Nothing).await
        }
    }
}
