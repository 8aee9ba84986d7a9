//! Limits on what one GraphQL operation may ask for. Length, aliases and depth are
//! checked here; complexity by async-graphql (set in `build_schema`), whose refusal is
//! given the same shape: `BAD_USER_INPUT`, with `limit` naming the limit and `max` its
//! value, so a client can tell what to change.
//!
//! Depth leaves out introspection (`__schema`, `__type`): GraphiQL's own introspection
//! query nests 13 levels, and it is bounded by the schema, not by the client.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, ServerError, ServerResult};

use super::pagination;

#[derive(Clone, Copy)]
pub(super) struct QueryLimits {
    pub max_bytes: usize,
    pub max_aliases: usize,
    pub max_depth: usize,
    pub max_complexity: usize,
}

impl QueryLimits {
    pub(super) fn from_config(config: &crate::config::Config) -> Self {
        Self {
            max_bytes: config.graphql.max_query_bytes,
            max_aliases: config.graphql.max_query_aliases,
            max_depth: config.graphql.max_query_depth,
            max_complexity: config.graphql.max_query_complexity,
        }
    }
}

impl QueryLimits {
    /// Before parsing: a huge document should cost us nothing.
    pub(super) fn check_length(&self, query: &str) -> ServerResult<()> {
        if query.len() > self.max_bytes {
            return Err(refusal(
                format!(
                    "the query is {} bytes long; the limit is {}",
                    query.len(),
                    self.max_bytes
                ),
                "queryBytes",
                self.max_bytes,
            ));
        }
        Ok(())
    }

    /// Before parsing: brackets nested deeper than `MAX_NESTING` (the parser and
    /// every later walk of values recurse once per level).
    pub(super) fn check_nesting(&self, query: &str) -> ServerResult<()> {
        let nesting = nesting(query);
        if nesting > MAX_NESTING {
            return Err(refusal(
                format!("the query nests brackets {nesting} deep; the limit is {MAX_NESTING}"),
                "nesting",
                MAX_NESTING,
            ));
        }
        Ok(())
    }

    /// After parsing, before async-graphql's own walks of the document.
    pub(super) fn check_document(&self, document: &ExecutableDocument) -> ServerResult<()> {
        // async-graphql's recursion check and complexity walk expand every fragment
        // spread afresh: 30 fragments each spreading the next twice cost 2^30 steps.
        // Counted here with memo; each field counts at least 1 toward complexity, so
        // this refuses nothing the complexity limit would let through.
        let size = Sizes::new(document).of_document();
        if size.fields > self.max_complexity {
            return Err(self.complexity_refusal());
        }
        let aliases = count_aliases(document);
        if aliases > self.max_aliases {
            return Err(refusal(
                format!(
                    "the query uses {aliases} aliases; the limit is {}",
                    self.max_aliases
                ),
                "aliases",
                self.max_aliases,
            ));
        }
        let depth = size.depth;
        if depth > self.max_depth {
            return Err(refusal(
                format!(
                    "the query is nested {depth} levels deep; the limit is {}",
                    self.max_depth
                ),
                "depth",
                self.max_depth,
            ));
        }
        Ok(())
    }

    /// async-graphql's complexity refusal in the shape of ours.
    pub(super) fn explain(&self, errors: Vec<ServerError>) -> Vec<ServerError> {
        errors
            .into_iter()
            .map(|error| match error.message.as_str() {
                "Query is too complex." => self.complexity_refusal(),
                _ => error,
            })
            .collect()
    }

    fn complexity_refusal(&self) -> ServerError {
        refusal(
            format!(
                "the query's complexity is over {} (each field counts 1, and a \
                 connection multiplies its fields by the page size asked for)",
                self.max_complexity
            ),
            "complexity",
            self.max_complexity,
        )
    }
}

fn refusal(message: String, limit: &str, max: usize) -> ServerError {
    let mut error = ServerError::new(message, None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", crate::error::ErrorCode::BadUserInput.as_str());
    extensions.set("limit", limit);
    extensions.set("max", max);
    error
}

/// Aliased fields in every operation and fragment definition. A fragment counts once
/// however often it is spread: the complexity limit covers the multiplication, and
/// this runs before validation has ruled out fragment cycles.
fn count_aliases(document: &ExecutableDocument) -> usize {
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| count_in(&op.node.selection_set.node));
    let fragments = document
        .fragments
        .values()
        .map(|fragment| count_in(&fragment.node.selection_set.node));
    operations.chain(fragments).sum()
}

fn count_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + count_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// The deepest field nesting, fragments inlined. Each fragment's depth is computed once
/// (a document of fragments spreading each other twice over must not cost 2^n), and a
/// fragment cycle counts as nothing here: validation refuses it after parsing.
/// Brackets (`{`, `[`, `(`) nested in one document, beyond which it is refused
/// unparsed. The parser caps selection sets at 64 levels, but not values.
const MAX_NESTING: usize = 128;

/// The deepest bracket nesting outside strings and comments.
fn nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The depth (leaving out introspection) and the number of fields of a selection once
/// every fragment spread is replaced by its fragment (saturating).
#[derive(Clone, Copy, Default)]
struct Size {
    depth: usize,
    fields: usize,
}

impl Size {
    /// Two selections side by side.
    fn beside(self, other: Self) -> Self {
        Self {
            depth: self.depth.max(other.depth),
            fields: self.fields.saturating_add(other.fields),
        }
    }
}

/// `Size`s of a document, each fragment measured once and remembered.
struct Sizes<'a> {
    document: &'a ExecutableDocument,
    fragments: HashMap<&'a Name, Size>,
    visiting: Vec<&'a Name>,
}

impl<'a> Sizes<'a> {
    fn new(document: &'a ExecutableDocument) -> Self {
        Self {
            document,
            fragments: HashMap::new(),
            visiting: Vec::new(),
        }
    }

    fn of_document(&mut self) -> Size {
        let document = self.document;
        document
            .operations
            .iter()
            .fold(Size::default(), |size, (_, op)| {
                size.beside(self.of_set(&op.node.selection_set.node))
            })
    }

    fn of_set(&mut self, set: &'a SelectionSet) -> Size {
        set.items.iter().fold(Size::default(), |size, item| {
            let item = match &item.node {
                Selection::Field(field) => {
                    let children = self.of_set(&field.node.selection_set.node);
                    let introspection = field.node.name.node.starts_with("__");
                    Size {
                        depth: if introspection { 0 } else { 1 + children.depth },
                        fields: children.fields.saturating_add(1),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.of_set(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => {
                    self.of_fragment(&spread.node.fragment_name.node)
                }
            };
            size.beside(item)
        })
    }

    fn of_fragment(&mut self, name: &'a Name) -> Size {
        if let Some(size) = self.fragments.get(name) {
            return *size;
        }
        // A cycle counts nothing here; validation refuses it.
        let Some(fragment) = self.document.fragments.get(name) else {
            return Size::default();
        };
        if self.visiting.contains(&name) {
            return Size::default();
        }
        self.visiting.push(name);
        let size = self.of_set(&fragment.node.selection_set.node);
        self.visiting.pop();
        self.fragments.insert(name, size);
        size
    }
}

/// The complexity of a connection field: its children's, times the page size asked
/// for (or the default page). An out-of-range size is refused by the resolver; here it
/// is clamped so the arithmetic stays sane.
pub(super) fn connection_complexity(
    first: Option<i32>,
    last: Option<i32>,
    limits: &pagination::Limits,
    child_complexity: usize,
) -> usize {
    let size = first
        .or(last)
        .unwrap_or(limits.default)
        .clamp(0, limits.max);
    (size as usize)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let document = async_graphql::parser::parse_query(
            "query { a: viewer { n: name } images { ...F } } fragment F on ImageConnection { t: totalCount ... on ImageConnection { u: totalCount } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&document), 4);
    }

    fn depth(query: &str) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap();
        Sizes::new(&document).of_document().depth
    }

    #[test]
    fn depth_inlines_fragments_and_skips_introspection() {
        assert_eq!(depth("{ viewer { name } }"), 2);
        assert_eq!(
            depth("{ images { ...E } } fragment E on ImageConnection { edges { node { id } } }"),
            4
        );
        assert_eq!(
            depth("{ __schema { types { fields { args { type { ofType { name } } } } } } }"),
            0
        );
        // A cycle is left to validation; doubling fragments cost linear time.
        assert_eq!(depth("{ a { ...F } } fragment F on A { b { ...F } }"), 2);
        let mut doubling = String::from("{ a { ...F0 } } ");
        for i in 0..40 {
            doubling.push_str(&format!(
                "fragment F{i} on A {{ b {{ ...F{} ...F{} }} }} ",
                i + 1,
                i + 1
            ));
        }
        doubling.push_str("fragment F40 on A { c }");
        assert_eq!(depth(&doubling), 42);
    }

    #[test]
    fn a_connection_costs_its_page_size_times_its_children() {
        let limits = pagination::Limits {
            default: 10,
            max: 30,
        };
        assert_eq!(connection_complexity(None, None, &limits, 5), 51);
        assert_eq!(connection_complexity(Some(2), None, &limits, 5), 11);
        assert_eq!(connection_complexity(None, Some(3), &limits, 5), 16);
        assert_eq!(connection_complexity(Some(10_000), None, &limits, 5), 151);
        assert_eq!(connection_complexity(Some(-4), None, &limits, 5), 1);
    }
}
