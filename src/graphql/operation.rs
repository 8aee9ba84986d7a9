//! Which operation of a document a request runs. Several steps look at it before
//! async-graphql does (the GET method check, the variable defaults, the path without
//! extensions, usage), and each must pick the one async-graphql will run
//! (`prepare_request`): with a name, only a named operation of that name (a lone
//! anonymous operation takes no name); without one, the only operation there is.

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition};
use async_graphql::{Name, Positioned};

/// The operation async-graphql will run and its own name, or `None` when it will
/// refuse the request ("Unknown operation named", "Operation name required").
pub(super) fn selected<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<(Option<&'d Name>, &'d Positioned<OperationDefinition>)> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), None) => Some((None, operation)),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get_key_value(name)
            .map(|(own, operation)| (Some(own), operation)),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .iter()
            .next()
            .map(|(own, operation)| (Some(own), operation)),
        (DocumentOperations::Single(_), Some(_)) | (DocumentOperations::Multiple(_), None) => None,
    }
}

/// `selected`, to change.
pub(super) fn selected_mut<'d>(
    document: &'d mut ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d mut Positioned<OperationDefinition>> {
    match (&mut document.operations, name) {
        (DocumentOperations::Single(operation), None) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get_mut(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values_mut().next()
        }
        (DocumentOperations::Single(_), Some(_)) | (DocumentOperations::Multiple(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn pick(query: &str, name: Option<&str>) -> Option<String> {
        let mut document = parse_query(query).unwrap();
        let picked = selected(&document, name)
            .map(|(own, _)| own.map_or_else(|| "<anonymous>".to_owned(), ToString::to_string));
        let picked_mut = selected_mut(&mut document, name).is_some();
        assert_eq!(picked.is_some(), picked_mut, "{query} {name:?}");
        picked
    }

    #[test]
    fn picks_what_async_graphql_runs() {
        assert_eq!(pick("{ a }", None).as_deref(), Some("<anonymous>"));
        assert_eq!(pick("{ a }", Some("A")), None);
        assert_eq!(pick("query A { a }", None).as_deref(), Some("A"));
        assert_eq!(pick("query A { a }", Some("A")).as_deref(), Some("A"));
        assert_eq!(pick("query A { a }", Some("B")), None);
        assert_eq!(pick("query A { a } query B { b }", None), None);
        assert_eq!(
            pick("query A { a } query B { b }", Some("B")).as_deref(),
            Some("B")
        );
    }
}
