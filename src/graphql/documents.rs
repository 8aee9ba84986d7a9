//! Parsed documents remembered by the SHA-256 of their text, per schema, so a request
//! whose document was seen before skips the parser and the limits walk (same text,
//! same document, same verdict), and its validation too when the operation name and
//! variables are also the same as a time it passed (validation reads variable values:
//! argument types and connection complexity).
//!
//! Only documents that passed every check are kept; one that fails is parsed and
//! refused afresh each time. The cache is bounded in entries and in estimated bytes,
//! and a document too large for a sensible share of the budget is never kept, so a
//! client sending endless distinct documents only turns entries over (CLOCK: an
//! entry used since the hand last passed gets another round).
//!
//! The same entries serve Automatic Persisted Queries (`persisted.rs`): a document is
//! found by its hash alone only once a client registered it by sending its text with
//! that hash. Documents merely seen are not: a hash is a question "did anyone send
//! exactly this text?", which for a document with a secret typed inline is an oracle
//! for guessing it.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    BaseType, Directive, DocumentOperations, ExecutableDocument, Field, OperationDefinition,
    OperationType, Selection, SelectionSet, Type, VariableDefinition,
};
use async_graphql::{Name, Positioned, ValidationResult, Variables};
use async_graphql_value::{ConstValue, Value};
use sha2::{Digest as _, Sha256};

/// Whether every operation of the document is a query.
fn only_queries(document: &ExecutableDocument) -> bool {
    let mut operations: Box<dyn Iterator<Item = &Positioned<OperationDefinition>>> =
        match &document.operations {
            DocumentOperations::Single(operation) => Box::new(std::iter::once(operation)),
            DocumentOperations::Multiple(operations) => Box::new(operations.values()),
        };
    operations.all(|operation| operation.node.ty == OperationType::Query)
}

/// The SHA-256 of a document's text.
pub(crate) type Key = [u8; 32];

pub(crate) fn key(text: &str) -> Key {
    Sha256::digest(text.as_bytes()).into()
}

/// Variables kept with a validation verdict at most this large (estimated bytes):
/// larger ones are validated each time.
const MAX_REMEMBERED_VARIABLES: usize = 1024;

/// Verdicts kept per document (operation name and variables), newest replacing oldest.
const VERDICTS: usize = 4;

/// A document is kept only if it takes at most this share of the byte budget.
const MAX_ENTRY_SHARE: usize = 64;

/// One remembered document.
pub(crate) struct Cached {
    key: Key,
    text: Box<str>,
    /// As parsed, before anything of one request (variable defaults) is applied.
    document: ExecutableDocument,
    bytes: usize,
    /// Used since the CLOCK hand last passed.
    referenced: AtomicBool,
    /// Registered by a client as a persisted query: findable by its hash alone.
    persisted: AtomicBool,
    /// Only queries may be registered: see `persist`.
    persistable: bool,
    verdicts: Mutex<Verdicts>,
}

#[derive(Default)]
struct Verdicts {
    passed: Vec<Verdict>,
    next: usize,
}

struct Verdict {
    operation_name: Option<String>,
    variables: Variables,
    result: ValidationResult,
}

impl Cached {
    pub(crate) fn new(key: Key, text: &str, document: ExecutableDocument) -> Self {
        let bytes = size_of::<Self>()
            + text.len()
            + document_bytes(&document)
            + VERDICTS * (size_of::<Verdict>() + MAX_REMEMBERED_VARIABLES);
        Self {
            key,
            text: text.into(),
            bytes,
            referenced: AtomicBool::new(false),
            persisted: AtomicBool::new(false),
            persistable: only_queries(&document),
            document,
            verdicts: Mutex::default(),
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn document(&self) -> &ExecutableDocument {
        &self.document
    }

    /// Registers the document as a persisted query, unless it holds a mutation or a
    /// subscription. Mutations are where secrets get typed inline (`login(input:
    /// {password: "..."})`): once registered, a hash of a guessed text would run it when
    /// right and be refused when wrong, an oracle outside every rate limit. Apollo's
    /// clients send a not-found mutation again with its text, so they still work.
    pub(crate) fn persist(&self) {
        if self.persistable {
            self.persisted.store(true, Ordering::Relaxed);
        }
    }

    /// Validation's verdict when it passed for the same operation name and variables.
    pub(crate) fn verdict(
        &self,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Option<ValidationResult> {
        let verdicts = self.verdicts.lock().ok()?;
        verdicts
            .passed
            .iter()
            .find(|v| v.operation_name.as_deref() == operation_name && v.variables == *variables)
            .map(|v| v.result)
    }

    /// Whether the operation name and `variables` are small enough to be kept with a
    /// verdict. The name counts too: async-graphql validates before it looks the name
    /// up, so a name that selects nothing (a request body's worth of it) still passes.
    pub(crate) fn rememberable(operation_name: Option<&str>, variables: &Variables) -> bool {
        let Some(mut budget) =
            MAX_REMEMBERED_VARIABLES.checked_sub(operation_name.map_or(0, str::len))
        else {
            return false;
        };
        variables.iter().all(|(name, value)| {
            budget = budget.saturating_sub(name_bytes(name));
            const_value_fits(value, &mut budget)
        })
    }

    pub(crate) fn remember(
        &self,
        operation_name: Option<String>,
        variables: Variables,
        result: ValidationResult,
    ) {
        let Ok(mut verdicts) = self.verdicts.lock() else {
            return;
        };
        let verdict = Verdict {
            operation_name,
            variables,
            result,
        };
        if verdicts.passed.len() < VERDICTS {
            verdicts.passed.push(verdict);
        } else {
            let next = verdicts.next;
            verdicts.passed[next] = verdict;
            verdicts.next = (next + 1) % VERDICTS;
        }
    }
}

/// The cache of one schema.
pub struct Documents {
    max_entries: usize,
    max_bytes: usize,
    clock: Mutex<Clock>,
}

#[derive(Default)]
struct Clock {
    slots: Vec<Option<Arc<Cached>>>,
    index: HashMap<Key, usize>,
    hand: usize,
    bytes: usize,
}

impl Documents {
    /// At most `max_entries` documents in at most `max_bytes` (estimated); 0 for either
    /// keeps nothing (and then no persisted query is ever found).
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            max_entries,
            max_bytes,
            clock: Mutex::default(),
        }
    }

    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::new(
            config.graphql.graphql_document_cache_entries,
            config
                .graphql
                .graphql_document_cache_mb
                .saturating_mul(1 << 20),
        )
    }

    fn enabled(&self) -> bool {
        self.max_entries > 0 && self.max_bytes > 0
    }

    /// The document with this hash, if remembered.
    pub(crate) fn get(&self, key: &Key) -> Option<Arc<Cached>> {
        if !self.enabled() {
            return None;
        }
        let clock = self.clock.lock().ok()?;
        let entry = clock.slots[*clock.index.get(key)?].clone()?;
        entry.referenced.store(true, Ordering::Relaxed);
        Some(entry)
    }

    /// The document registered as a persisted query with this hash.
    pub(crate) fn persisted(&self, key: &Key) -> Option<Arc<Cached>> {
        self.get(key)
            .filter(|entry| entry.persisted.load(Ordering::Relaxed))
    }

    /// Whether a document of this estimated size would be kept.
    fn admits(&self, bytes: usize) -> bool {
        self.enabled() && bytes <= self.max_bytes / MAX_ENTRY_SHARE
    }

    /// Remembers `entry` (a document that passed every check), evicting what the
    /// bounds ask; one already there under the same hash is kept (and marked
    /// persisted if `entry` is).
    pub(crate) fn insert(&self, entry: Arc<Cached>) {
        if !self.admits(entry.bytes) {
            return;
        }
        let Ok(mut clock) = self.clock.lock() else {
            return;
        };
        if let Some(&slot) = clock.index.get(&entry.key) {
            if entry.persisted.load(Ordering::Relaxed)
                && let Some(existing) = &clock.slots[slot]
            {
                existing.persist();
            }
            return;
        }
        // Two full turns of the hand clear every reference bit and evict: enough.
        let mut turns = 0;
        while (clock.index.len() >= self.max_entries || clock.bytes + entry.bytes > self.max_bytes)
            && !clock.slots.is_empty()
            && turns < 2 * clock.slots.len() + 1
        {
            clock.advance();
            turns += 1;
        }
        if clock.index.len() >= self.max_entries || clock.bytes + entry.bytes > self.max_bytes {
            return;
        }
        let slot = match clock.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                clock.slots.push(None);
                clock.slots.len() - 1
            }
        };
        clock.bytes += entry.bytes;
        clock.index.insert(entry.key, slot);
        clock.slots[slot] = Some(entry);
    }

    /// Entries and estimated bytes held (for tests).
    pub fn usage(&self) -> (usize, usize) {
        self.clock
            .lock()
            .map_or((0, 0), |clock| (clock.index.len(), clock.bytes))
    }
}

impl Clock {
    /// Looks at the slot under the hand: a referenced entry loses its mark, an
    /// unreferenced one is evicted. Then the hand moves on.
    fn advance(&mut self) {
        let hand = self.hand % self.slots.len();
        if let Some(entry) = &self.slots[hand] {
            if entry.referenced.swap(false, Ordering::Relaxed) {
                // spared this round
            } else {
                self.bytes -= entry.bytes;
                self.index.remove(&entry.key);
                self.slots[hand] = None;
            }
        }
        self.hand = (hand + 1) % self.slots.len();
    }
}

// ---- size estimates: what a document holds on the heap, close enough to bound memory.

fn document_bytes(document: &ExecutableDocument) -> usize {
    let operations = match &document.operations {
        DocumentOperations::Single(op) => operation_bytes(&op.node),
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .map(|(name, op)| {
                map_slot::<Name, Positioned<OperationDefinition>>()
                    + name_bytes(name)
                    + operation_bytes(&op.node)
            })
            .sum(),
    };
    let fragments: usize = document
        .fragments
        .iter()
        .map(|(name, fragment)| {
            let fragment = &fragment.node;
            map_slot::<Name, Positioned<async_graphql::parser::types::FragmentDefinition>>()
                + name_bytes(name)
                + name_bytes(&fragment.type_condition.node.on.node)
                + directives_bytes(&fragment.directives)
                + set_bytes(&fragment.selection_set.node)
        })
        .sum();
    operations + fragments
}

/// A hash map's slot: the pair, its control byte, and room for the load factor.
fn map_slot<K, V>() -> usize {
    (size_of::<(K, V)>() + 1) * 8 / 7
}

/// An `Arc<str>`: two counts, the bytes, the allocator's rounding and header.
fn name_bytes(name: &Name) -> usize {
    2 * size_of::<usize>() + name.len() + 16
}

fn vec_bytes<T>(items: &[T]) -> usize {
    std::mem::size_of_val(items)
}

fn operation_bytes(op: &OperationDefinition) -> usize {
    vec_bytes(&op.variable_definitions)
        + op.variable_definitions
            .iter()
            .map(|def| variable_bytes(&def.node))
            .sum::<usize>()
        + directives_bytes(&op.directives)
        + set_bytes(&op.selection_set.node)
}

fn variable_bytes(def: &VariableDefinition) -> usize {
    name_bytes(&def.name.node)
        + type_bytes(&def.var_type.node)
        + directives_bytes(&def.directives)
        + def
            .default_value
            .as_ref()
            .map_or(0, |value| const_value_bytes(&value.node))
}

fn type_bytes(ty: &Type) -> usize {
    match &ty.base {
        BaseType::Named(name) => name_bytes(name),
        BaseType::List(inner) => size_of::<Type>() + type_bytes(inner),
    }
}

fn directives_bytes(directives: &[Positioned<Directive>]) -> usize {
    vec_bytes(directives)
        + directives
            .iter()
            .map(|d| name_bytes(&d.node.name.node) + arguments_bytes(&d.node.arguments))
            .sum::<usize>()
}

fn arguments_bytes(arguments: &[(Positioned<Name>, Positioned<Value>)]) -> usize {
    vec_bytes(arguments)
        + arguments
            .iter()
            .map(|(name, value)| name_bytes(&name.node) + value_bytes(&value.node))
            .sum::<usize>()
}

fn set_bytes(set: &SelectionSet) -> usize {
    vec_bytes(&set.items)
        + set
            .items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => field_bytes(&field.node),
                Selection::FragmentSpread(spread) => {
                    name_bytes(&spread.node.fragment_name.node)
                        + directives_bytes(&spread.node.directives)
                }
                Selection::InlineFragment(fragment) => {
                    fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(0, |on| name_bytes(&on.node.on.node))
                        + directives_bytes(&fragment.node.directives)
                        + set_bytes(&fragment.node.selection_set.node)
                }
            })
            .sum::<usize>()
}

fn field_bytes(field: &Field) -> usize {
    field
        .alias
        .as_ref()
        .map_or(0, |alias| name_bytes(&alias.node))
        + name_bytes(&field.name.node)
        + arguments_bytes(&field.arguments)
        + directives_bytes(&field.directives)
        + set_bytes(&field.selection_set.node)
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Variable(name) | Value::Enum(name) => name_bytes(name),
        Value::String(s) => s.len(),
        Value::Binary(b) => b.len(),
        Value::List(items) => vec_bytes(items) + items.iter().map(value_bytes).sum::<usize>(),
        Value::Object(map) => map
            .iter()
            .map(|(name, v)| map_slot::<Name, Value>() + name_bytes(name) + value_bytes(v))
            .sum(),
        Value::Null | Value::Number(_) | Value::Boolean(_) => 0,
    }
}

fn const_value_bytes(value: &ConstValue) -> usize {
    let mut budget = usize::MAX;
    const_value_fits(value, &mut budget);
    usize::MAX - budget
}

/// Takes `value`'s estimated bytes from `budget`; false once it runs out.
fn const_value_fits(value: &ConstValue, budget: &mut usize) -> bool {
    let own = match value {
        ConstValue::Enum(name) => name_bytes(name),
        ConstValue::String(s) => s.len(),
        ConstValue::Binary(b) => b.len(),
        ConstValue::List(items) => vec_bytes(items),
        ConstValue::Object(map) => map.len() * map_slot::<Name, ConstValue>(),
        ConstValue::Null | ConstValue::Number(_) | ConstValue::Boolean(_) => 0,
    } + size_of::<ConstValue>();
    let Some(left) = budget.checked_sub(own) else {
        *budget = 0;
        return false;
    };
    *budget = left;
    match value {
        ConstValue::List(items) => items.iter().all(|item| const_value_fits(item, budget)),
        ConstValue::Object(map) => map.iter().all(|(name, v)| {
            *budget = budget.saturating_sub(name_bytes(name));
            *budget > 0 && const_value_fits(v, budget)
        }),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(text: &str) -> Arc<Cached> {
        let document = async_graphql::parser::parse_query(text).unwrap();
        Arc::new(Cached::new(key(text), text, document))
    }

    #[test]
    fn entries_are_bounded_and_used_ones_outlive_unused_ones() {
        let documents = Documents::new(3, 64 << 20);
        let hot = entry("{ hot }");
        documents.insert(hot.clone());
        for i in 0..100 {
            assert!(documents.get(&hot.key).is_some(), "hot evicted at {i}");
            documents.insert(entry(&format!("{{ cold{i} }}")));
            assert!(documents.usage().0 <= 3);
        }
        assert!(documents.get(&key("{ cold99 }")).is_some());
        assert!(documents.get(&key("{ cold0 }")).is_none());
    }

    #[test]
    fn bytes_are_bounded_and_big_documents_are_not_kept() {
        let small = entry("{ a }");
        let budget = small.bytes * 3 + small.bytes / 2;
        // A budget that holds three such entries, each within 1/64 of it: none is.
        let documents = Documents::new(100, budget);
        documents.insert(small.clone());
        assert!(documents.get(&small.key).is_none());

        let documents = Documents::new(1000, small.bytes * MAX_ENTRY_SHARE * 2);
        for i in 0..500 {
            documents.insert(entry(&format!("{{ a{i:03} }}")));
            let (_, bytes) = documents.usage();
            assert!(bytes <= small.bytes * MAX_ENTRY_SHARE * 2);
        }
        let (entries, _) = documents.usage();
        assert!(entries < 500 && entries > 50, "{entries}");
        let mut big = String::from("{ ");
        for i in 0..5000 {
            big.push_str(&format!("f{i} "));
        }
        big.push('}');
        documents.insert(entry(&big));
        assert!(documents.get(&key(&big)).is_none());
    }

    #[test]
    fn size_estimate_grows_with_the_document() {
        let one = entry("{ images { edges { node { id } } } }");
        let two = entry(
            "{ images { edges { node { id url } } } viewer { name } x: image(id: \"abc\") { id } }",
        );
        assert!(two.bytes > one.bytes);
        assert!(document_bytes(&two.document) > document_bytes(&one.document) + 200);
    }

    #[test]
    fn only_registered_documents_are_found_by_hash_alone() {
        let documents = Documents::new(10, 64 << 20);
        let seen = entry("{ seen }");
        documents.insert(seen.clone());
        assert!(documents.persisted(&seen.key).is_none());
        let registered = entry("{ seen }");
        registered.persist();
        documents.insert(registered);
        assert!(documents.persisted(&seen.key).is_some());
    }

    #[test]
    fn verdicts_need_the_same_name_and_variables() {
        let cached = entry("query Q($a: Int) { images(first: $a) { totalCount } }");
        let vars = |n: i32| Variables::from_json(serde_json::json!({ "a": n }));
        let result = ValidationResult {
            cache_control: async_graphql::CacheControl::default(),
            complexity: 3,
            depth: 2,
        };
        cached.remember(Some("Q".into()), vars(1), result);
        assert!(cached.verdict(Some("Q"), &vars(1)).is_some());
        assert!(cached.verdict(Some("Q"), &vars(2)).is_none());
        assert!(cached.verdict(None, &vars(1)).is_none());
        for n in 2..10 {
            cached.remember(Some("Q".into()), vars(n), result);
        }
        assert!(cached.verdict(Some("Q"), &vars(1)).is_none());
        assert!(cached.verdict(Some("Q"), &vars(9)).is_some());
        assert!(Cached::rememberable(Some("Q"), &vars(1)));
        let long = Variables::from_json(serde_json::json!({ "a": "x".repeat(2000) }));
        assert!(!Cached::rememberable(Some("Q"), &long));
    }

    #[test]
    fn a_long_operation_name_is_not_kept_with_a_verdict() {
        // `{ a }` with `operationName` a request body long passes validation (the
        // name is looked up after it), and each verdict kept the name outside the
        // byte budget: 4 verdicts of 30 MB per document.
        let none = Variables::default();
        assert!(Cached::rememberable(Some("Q"), &none));
        assert!(Cached::rememberable(None, &none));
        let long = "x".repeat(MAX_REMEMBERED_VARIABLES + 1);
        assert!(!Cached::rememberable(Some(&long), &none));
        let vars = Variables::from_json(serde_json::json!({ "a": 1 }));
        let almost = "x".repeat(MAX_REMEMBERED_VARIABLES - 8);
        assert!(!Cached::rememberable(Some(&almost), &vars));
    }
}
