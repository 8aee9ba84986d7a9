//! Automatic Persisted Queries, as Apollo's clients speak them: a request may carry
//! `extensions.persistedQuery = {version: 1, sha256Hash}`. With no `query`, the
//! document registered under that hash runs, or the request is refused with
//! `PERSISTED_QUERY_NOT_FOUND` (the client then sends the text with the hash); with a
//! `query`, the hash must be the text's SHA-256, and the document is registered once
//! it has passed every check. Registrations live in the schema's document cache
//! (`documents.rs`), so they are bounded with it and a client must be ready to send
//! the text again, which Apollo's link does by itself.

use async_graphql::{Request, ServerError};
use async_graphql_value::ConstValue;

use super::documents::{Documents, Key};
use crate::error::ErrorCode;

/// Left in a request's data once its `persistedQuery` extension has been read.
#[derive(Clone, Copy)]
pub(crate) struct Persisted {
    /// The SHA-256 of the request's query (given, and checked when the text came too).
    pub(crate) key: Key,
    /// The text came with its hash: keep the document under it once it passes.
    pub(crate) register: bool,
}

/// Reads the request's `persistedQuery` extension, if any: fills in the query of a
/// request that sent only the hash, or checks the hash of one that sent both. A
/// request without the extension is left alone.
pub(crate) fn resolve(documents: &Documents, request: &mut Request) -> Result<(), ServerError> {
    let Some(extension) = request.extensions.remove("persistedQuery") else {
        return Ok(());
    };
    let key = requested_key(&extension)?;
    if request.query.is_empty() {
        let entry = documents.persisted(&key).ok_or_else(not_found)?;
        request.query = entry.text().to_owned();
        request.data.insert(Persisted {
            key,
            register: false,
        });
    } else {
        let actual = super::documents::key(&request.query);
        if actual != key {
            return Err(bad_input(format!(
                "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the query \
                 (which is {})",
                hex::encode(actual)
            )));
        }
        request.data.insert(Persisted {
            key,
            register: true,
        });
    }
    Ok(())
}

/// The request's note: the one `resolve` left, or one made now with the query's hash
/// (not to register), so a request passed from one schema to the other is hashed once.
pub(crate) fn note(request: &mut Request) -> Persisted {
    if let Some(noted) = noted(request) {
        return noted;
    }
    let note = Persisted {
        key: super::documents::key(&request.query),
        register: false,
    };
    request.data.insert(note);
    note
}

/// The `Persisted` note `resolve` left in the request, if any.
fn noted(request: &Request) -> Option<Persisted> {
    request
        .data
        .get(&std::any::TypeId::of::<Persisted>())
        .and_then(|note| note.downcast_ref::<Persisted>())
        .copied()
}

fn requested_key(extension: &ConstValue) -> Result<Key, ServerError> {
    let ConstValue::Object(fields) = extension else {
        return Err(bad_input(
            "`extensions.persistedQuery` must be an object with `version` and `sha256Hash`"
                .to_owned(),
        ));
    };
    match fields.get("version") {
        Some(ConstValue::Number(n)) if n.as_i64() == Some(1) => {}
        _ => {
            return Err(bad_input(
                "`extensions.persistedQuery.version` must be 1".to_owned(),
            ));
        }
    }
    let Some(ConstValue::String(hash)) = fields.get("sha256Hash") else {
        return Err(bad_input(
            "`extensions.persistedQuery.sha256Hash` must be a string".to_owned(),
        ));
    };
    let mut key = [0u8; 32];
    hex::decode_to_slice(hash, &mut key).map_err(|_| {
        bad_input("`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits".to_owned())
    })?;
    Ok(key)
}

/// Whether a response is only the not-found answer to a hash sent without its text.
pub(super) fn is_miss(response: &async_graphql::Response) -> bool {
    let code = ErrorCode::PersistedQueryNotFound.as_str();
    matches!(response.errors.as_slice(), [error] if error
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get("code"))
        .is_some_and(|value| matches!(value, ConstValue::String(s) if s == code)))
}

fn not_found() -> ServerError {
    with_code(
        ServerError::new("PersistedQueryNotFound", None),
        ErrorCode::PersistedQueryNotFound,
    )
}

fn bad_input(message: String) -> ServerError {
    with_code(ServerError::new(message, None), ErrorCode::BadUserInput)
}

fn with_code(mut error: ServerError, code: ErrorCode) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}
