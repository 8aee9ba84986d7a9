//! The parameters of a GraphQL-over-HTTP request, read strictly: `query` a string,
//! `operationName` a string or null, `variables` and `extensions` maps or null; in a
//! JSON body (an object, or an array of them for a batch) or a GET query string (the
//! maps as JSON text). Anything else is not a GraphQL request at all, which the HTTP
//! layer answers with 400 whatever the media type. async-graphql's own readers take a
//! missing `query` for an empty document, and on GET ignore `operationName`.

use async_graphql::{BatchRequest, Request, Variables};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Variables,
    #[serde(default)]
    extensions: async_graphql::Extensions,
}

/// The request(s) in a JSON body, or why it is not one, in words for the client.
pub(super) fn from_json(body: &[u8]) -> Result<BatchRequest, String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let batch: Vec<Params> = serde_json::from_slice(body).map_err(explain)?;
        if batch.is_empty() {
            return Err("the batch is empty".to_owned());
        }
        let requests = batch.into_iter().map(request).collect::<Result<_, _>>()?;
        Ok(BatchRequest::Batch(requests))
    } else {
        let params: Params = serde_json::from_slice(body).map_err(explain)?;
        Ok(BatchRequest::Single(request(params)?))
    }
}

/// The request in a GET query string.
pub(super) fn from_query_string(raw: &str) -> Result<Request, String> {
    let mut params = Params {
        query: None,
        operation_name: None,
        variables: Variables::default(),
        extensions: async_graphql::Extensions::default(),
    };
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "query" => params.query = Some(value.into_owned()),
            "operationName" => params.operation_name = Some(value.into_owned()),
            "variables" => {
                params.variables = serde_json::from_str(&value)
                    .map_err(|err| format!("`variables` is not a JSON map: {err}"))?;
            }
            "extensions" => {
                params.extensions = serde_json::from_str(&value)
                    .map_err(|err| format!("`extensions` is not a JSON map: {err}"))?;
            }
            _ => {}
        }
    }
    request(params)
}

fn request(params: Params) -> Result<Request, String> {
    // A persisted query may come as its hash alone (`graphql/persisted.rs`).
    let query = match params.query {
        Some(query) => query,
        None if params.extensions.contains_key("persistedQuery") => String::new(),
        None => {
            return Err(
                "the request has no `query` (a string holding the GraphQL document)".to_owned(),
            );
        }
    };
    let mut request = Request::new(query).variables(params.variables);
    request.operation_name = params.operation_name;
    request.extensions = params.extensions;
    Ok(request)
}

fn explain(err: serde_json::Error) -> String {
    if err.is_syntax() || err.is_eof() {
        format!("the body is not JSON: {err}")
    } else {
        format!("invalid GraphQL request parameters: {err}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_requests_are_read() {
        assert!(matches!(
            from_json(
                br#"{"query":"{ a }","variables":null,"extensions":null,"operationName":null}"#
            ),
            Ok(BatchRequest::Single(_))
        ));
        assert!(matches!(
            from_json(br#" [{"query":"{ a }"},{"query":"{ b }"}]"#),
            Ok(BatchRequest::Batch(b)) if b.len() == 2
        ));
        for bad in [
            &br#"{ "not a JSON"#[..],
            br#"{"qeury":"{ a }"}"#,
            br#"{"query":null}"#,
            br#"{"query":0}"#,
            br#"{"query":"{ a }","variables":"x"}"#,
            br#"{"query":"{ a }","variables":[1]}"#,
            br#"{"query":"{ a }","extensions":"x"}"#,
            br#"{"query":"{ a }","operationName":{"a":1}}"#,
            br#"[]"#,
            br#""x""#,
            b"",
        ] {
            assert!(from_json(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn query_strings_too() {
        let request = from_query_string(
            "query=query%20A%20%7B%20a%20%7D&operationName=A&variables=%7B%22x%22%3A1%7D",
        )
        .unwrap();
        assert_eq!(request.query, "query A { a }");
        assert_eq!(request.operation_name.as_deref(), Some("A"));
        assert_eq!(request.variables.len(), 1);
        for bad in [
            "",
            "operationName=A",
            "query=%7Ba%7D&variables=x",
            "query=%7Ba%7D&variables=%5B%5D",
        ] {
            assert!(from_query_string(bad).is_err(), "{bad}");
        }
    }
}
