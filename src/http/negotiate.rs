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
    /// `None` when the client accepts neither (406). Each type takes the quality of
    /// the most specific range that matches it (RFC 9110, 12.5.1); the higher quality
    /// wins; at equal quality one named outright beats one a wildcard covers, and
    /// between two named, the first listed.
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let mut accepts = headers.get_all(header::ACCEPT).iter().peekable();
        if accepts.peek().is_none() {
            return Some(Self::Json);
        }
        // Per type: (specificity, quality, position in the header).
        let mut json: Option<(u8, f32, usize)> = None;
        let mut graphql: Option<(u8, f32, usize)> = None;
        let ranges = accepts
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for (position, range) in ranges.enumerate() {
            let mut parts = range.split(';');
            let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|param| {
                    let (name, value) = param.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("q")
                        .then(|| value.trim().parse::<f32>().ok())?
                })
                .next()
                .unwrap_or(1.0);
            let (for_json, for_graphql) = match essence.as_str() {
                "application/json" => (Some(3), None),
                "application/graphql-response+json" => (None, Some(3)),
                "application/*" => (Some(2), Some(2)),
                "*/*" => (Some(1), Some(1)),
                _ => (None, None),
            };
            for (slot, specificity) in [(&mut json, for_json), (&mut graphql, for_graphql)] {
                if let Some(specificity) = specificity
                    && slot.is_none_or(|(s, _, _)| specificity > s)
                {
                    *slot = Some((specificity, quality, position));
                }
            }
        }
        let rank = |(specificity, quality, position): (u8, f32, usize)| {
            (quality > 0.0).then_some((quality, specificity == 3, usize::MAX - position))
        };
        match (json.and_then(rank), graphql.and_then(rank)) {
            (None, None) => None,
            (Some(_), None) => Some(Self::Json),
            (None, Some(_)) => Some(Self::GraphqlResponse),
            // Covered by the same wildcard alone: the form every client reads.
            (Some(j), Some(g)) if j == g => Some(Self::Json),
            (Some(j), Some(g)) => Some(if g > j {
                Self::GraphqlResponse
            } else {
                Self::Json
            }),
        }
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
        assert_eq!(negotiate(&["application/json;Q=0"]), None);
        // The specific range decides for its type, whatever a wildcard says.
        assert_eq!(
            negotiate(&["application/json;q=0, */*"]),
            Some(GraphqlResponse)
        );
        assert_eq!(negotiate(&["application/*"]), Some(Json));
        assert_eq!(
            negotiate(&["*/*;q=0.5, application/graphql-response+json"]),
            Some(GraphqlResponse)
        );
        assert_eq!(negotiate(&["application/json, */*;q=0.1"]), Some(Json));
    }
}
