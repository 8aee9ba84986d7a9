//! Variable coercion as the GraphQL specification has it, where async-graphql 7.2
//! differs: an input-object field or argument whose variable was not provided takes
//! the field's default, and a required variable that was not provided is a request
//! error rather than a field error met halfway through execution.
//!
//! async-graphql resolves a variable that was not provided to its definition's
//! default, else `null` when the variable's type is nullable (`ContextBase::var_value`),
//! so `input: {save: $save}` with `$save` absent reaches `save: SaveMode! =
//! NEW_VERSION` as an explicit `null`. Right after parsing, `apply` gives such a
//! variable the default of the positions it is used in, when they agree: absent then
//! means the default, and an explicit `null` still means `null` (an error for a
//! non-null field), as the specification says.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::registry::{MetaInputValue, MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};
use async_graphql_value::Value;

use super::operation::{selected, selected_mut};

/// Gives absent variables the defaults of where they are used, and refuses absent
/// required ones, in the operation that will run.
pub(super) fn apply(
    registry: &Registry,
    document: &mut ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> ServerResult<()> {
    let Some((_, operation)) = selected(document, operation_name) else {
        return Ok(()); // async-graphql names the problem
    };
    let mut absent = Vec::new();
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        if definition.default_value.is_some() || variables.contains_key(&definition.name.node) {
            continue;
        }
        if !definition.var_type.node.nullable {
            return Err(ServerError::new(
                format!(
                    "Variable \"${}\" of required type \"{}\" was not provided.",
                    definition.name.node, definition.var_type.node
                ),
                Some(definition.name.pos),
            ));
        }
        absent.push(definition.name.node.clone());
    }
    if absent.is_empty() {
        return Ok(());
    }
    let root = match operation.node.ty {
        async_graphql::parser::types::OperationType::Query => Some(registry.query_type.as_str()),
        async_graphql::parser::types::OperationType::Mutation => registry.mutation_type.as_deref(),
        async_graphql::parser::types::OperationType::Subscription => {
            registry.subscription_type.as_deref()
        }
    };
    let Some(root) = root else { return Ok(()) };
    let mut usages = Usages {
        registry,
        document,
        wanted: absent.iter().cloned().collect(),
        uses: HashMap::new(),
        visited: HashSet::new(),
    };
    usages.selection_set(root, &operation.node.selection_set.node);
    let uses = usages.uses;

    let Some(operation) = selected_mut(document, operation_name) else {
        return Ok(());
    };
    for definition in &mut operation.node.variable_definitions {
        let name = &definition.node.name.node;
        let Some(uses) = uses.get(name) else { continue };
        // A nullable variable where `null` is not allowed and no default stands in
        // (validation's "variable usages are allowed", which async-graphql checks only
        // for whole arguments).
        if let Some(refused) = uses.iter().find(|u| u.non_null && u.default.is_none()) {
            return Err(ServerError::new(
                format!(
                    "Variable \"${name}\" of type \"{}\" was not provided and is used in a \
                     position expecting type \"{}\".",
                    definition.node.var_type.node, refused.ty
                ),
                Some(definition.pos),
            ));
        }
        // Every use must have the same default; otherwise absent stays `null`.
        let Some(default) = uses[0].default.as_deref() else {
            continue;
        };
        if uses.iter().all(|u| u.default.as_deref() == Some(default))
            && let Some(value) = parse_const(default)
        {
            definition.node.default_value = Some(Positioned::new(value, definition.pos));
        }
    }
    Ok(())
}

/// Where each absent variable is used, walked with the schema's types.
struct Usages<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    wanted: HashSet<Name>,
    uses: HashMap<Name, Vec<Use>>,
    visited: HashSet<Name>,
}

/// One position an absent variable fills.
struct Use {
    /// The type the position expects.
    ty: String,
    non_null: bool,
    /// The position's default, in GraphQL literal syntax.
    default: Option<String>,
}

impl Usages<'_> {
    fn selection_set(&mut self, type_name: &str, set: &SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    for directive in &field.directives {
                        self.directive(&directive.node.name.node, &directive.node.arguments);
                    }
                    let meta = self
                        .registry
                        .types
                        .get(type_name)
                        .and_then(|ty| ty.field_by_name(&field.name.node));
                    for (name, value) in &field.arguments {
                        let arg = meta.and_then(|m| m.args.get(name.node.as_str()));
                        self.value(&value.node, arg);
                    }
                    if let Some(meta) = meta {
                        let inner = MetaTypeName::concrete_typename(&meta.ty).to_owned();
                        self.selection_set(&inner, &field.selection_set.node);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    for directive in &spread.directives {
                        self.directive(&directive.node.name.node, &directive.node.arguments);
                    }
                    let name = &spread.fragment_name.node;
                    if !self.visited.insert(name.clone()) {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(name) {
                        let on = fragment.node.type_condition.node.on.node.clone();
                        self.selection_set(&on, &fragment.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    for directive in &inline.directives {
                        self.directive(&directive.node.name.node, &directive.node.arguments);
                    }
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map_or(type_name, |c| c.node.on.node.as_str())
                        .to_owned();
                    self.selection_set(&on, &inline.selection_set.node);
                }
            }
        }
    }

    fn directive(&mut self, name: &str, arguments: &[(Positioned<Name>, Positioned<Value>)]) {
        let meta = self.registry.directives.get(name);
        for (arg, value) in arguments {
            let arg = meta.and_then(|m| m.args.get(arg.node.as_str()));
            self.value(&value.node, arg);
        }
    }

    /// A value in a position described by `meta` (`None`: unknown to the schema,
    /// which validation reports).
    fn value(&mut self, value: &Value, meta: Option<&MetaInputValue>) {
        let ty = meta.map(|m| m.ty.as_str());
        match value {
            Value::Variable(name) => self.used(
                name,
                ty.unwrap_or_default(),
                meta.and_then(|m| m.default_value.clone()),
            ),
            Value::List(items) => {
                // List items have no default: an absent variable there is `null`.
                for item in items {
                    self.item(item, ty.and_then(list_item));
                }
            }
            Value::Object(fields) => self.object(fields, ty),
            _ => {}
        }
    }

    fn item(&mut self, value: &Value, ty: Option<&str>) {
        match value {
            Value::Variable(name) => self.used(name, ty.unwrap_or_default(), None),
            Value::List(items) => {
                for item in items {
                    self.item(item, ty.and_then(list_item));
                }
            }
            Value::Object(fields) => self.object(fields, ty),
            _ => {}
        }
    }

    fn object(
        &mut self,
        fields: &async_graphql::indexmap::IndexMap<Name, Value>,
        ty: Option<&str>,
    ) {
        let input_fields = ty
            .map(MetaTypeName::concrete_typename)
            .and_then(|name| self.registry.types.get(name))
            .and_then(|ty| match ty {
                MetaType::InputObject { input_fields, .. } => Some(input_fields),
                _ => None,
            });
        for (name, value) in fields {
            let field = input_fields.and_then(|f| f.get(name.as_str()));
            self.value(value, field);
        }
    }

    fn used(&mut self, name: &Name, ty: &str, default: Option<String>) {
        if !self.wanted.contains(name) {
            return;
        }
        self.uses.entry(name.clone()).or_default().push(Use {
            ty: ty.to_owned(),
            non_null: ty.ends_with('!'),
            default,
        });
    }
}

/// `[T]` or `[T]!` to `T`.
fn list_item(ty: &str) -> Option<&str> {
    ty.trim_end_matches('!')
        .strip_prefix('[')?
        .strip_suffix(']')
}

/// A default value as the registry writes it (GraphQL literal syntax).
fn parse_const(literal: &str) -> Option<async_graphql::Value> {
    let document =
        async_graphql::parser::parse_query(format!("query($v: Int = {literal}) {{ __typename }}"))
            .ok()?;
    let DocumentOperations::Single(operation) = document.operations else {
        return None;
    };
    let definition = operation.node.variable_definitions.into_iter().next()?;
    definition.node.default_value.map(|value| value.node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_and_literals() {
        assert_eq!(list_item("[ID!]!"), Some("ID!"));
        assert_eq!(list_item("[[Int]]"), Some("[Int]"));
        assert_eq!(list_item("ID"), None);
        assert_eq!(
            parse_const("NEW_VERSION"),
            Some(async_graphql::Value::Enum(Name::new("NEW_VERSION")))
        );
        assert_eq!(
            parse_const("\"a\""),
            Some(async_graphql::Value::String("a".into()))
        );
        assert_eq!(parse_const("{"), None);
    }
}
