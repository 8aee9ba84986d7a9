//! The media type of a GraphQL answer, chosen from the request's `Accept` header as
//! GraphQL over HTTP says: `application/graphql-response+json` when the client asks
//! for it, else `application/json` (also for `*/*` and for no `Accept` at all).

use axum::http::{HeaderMap, StatusCode, header};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ResponseType {
    /// `application/json`: every answer to a well-formed request is a 200.
    Json,
    /// `application/graphql-response+json`: a request refused before execution
    /// (unparseable, invalid) is a 400 without `data`.
    GraphqlResponse,
}

impl ResponseType {
    /// `None` when the client accepts neither (406).
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let mut accepts = headers.get_all(header::ACCEPT).iter().peekable();
        if accepts.peek().is_none() {
            return Some(Self::Json);
        }
        let mut best: Option<(Self, f32)> = None;
        for range in accepts
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
        {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let kind = match essence.as_str() {
                "application/graphql-response+json" => Self::GraphqlResponse,
                "application/json" | "application/*" | "*/*" => Self::Json,
                _ => continue,
            };
            let quality = parts
                .filter_map(|param| param.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // The first of equal preference wins, as the client listed them.
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((kind, quality));
            }
        }
        best.map(|(kind, _)| kind)
    }

    pub(super) fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        }
    }

    /// The status of a request that could not be executed as a GraphQL request.
    pub(super) fn request_error_status(self) -> StatusCode {
        match self {
            Self::Json => StatusCode::OK,
            Self::GraphqlResponse => StatusCode::BAD_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &[&str]) -> Option<ResponseType> {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, value.parse().unwrap());
        }
        ResponseType::negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_media_type() {
        use ResponseType::{GraphqlResponse, Json};
        assert_eq!(negotiate(&[]), Some(Json));
        assert_eq!(negotiate(&["application/json"]), Some(Json));
        assert_eq!(negotiate(&["*/*"]), Some(Json));
        assert_eq!(
            negotiate(&["application/graphql-response+json"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["application/graphql-response+json, application/json;q=0.9"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            negotiate(&["application/graphql-response+json;q=0.5, application/json"]),
            Some(Json)
        );
        assert_eq!(
            negotiate(&["application/json", "application/graphql-response+json"]),
            Some(Json)
        );
        assert_eq!(negotiate(&["text/html"]), None);
        assert_eq!(negotiate(&["application/json;q=0"]), None);
    }
}
