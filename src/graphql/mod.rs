//! The GraphQL schema. It knows nothing of HTTP: the HTTP layer attaches the viewer
//! and fresh loaders to each request with `prepare_request`.

mod accounts;
mod documents;
pub mod errors;
mod hooks;
mod limits;
mod loaders;
mod metrics;
mod mutation;
mod operation;
mod operation_spans;
mod outcome;
pub mod pagination;
mod persisted;
mod query;
mod request_ids;
mod service;
mod spec_variables;
mod subscription;
mod types;
mod usage;

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::{Context, Schema};

use crate::app::App;
use crate::error::{Error, Result};
use crate::use_cases::users::Authenticated;
use imagegraph_db::models::User;
use imagegraph_db::{GlobalId, TokenId};
use loaders::Loaders;

pub use documents::Documents;
pub use mutation::Mutation;
pub use outcome::Executed;
pub use query::Query;
pub use service::HttpGraphql;

/// The query root: the core API, the metrics and the accounts.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(query::Query, metrics::MetricsQuery, accounts::AccountsQuery);

/// The mutation root: the core API and the accounts.
#[derive(async_graphql::MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(mutation::Mutation, accounts::AccountsMutation);
pub use subscription::Subscription;

pub type AppSchema = Schema<QueryRoot, MutationRoot, Subscription>;

/// The schema WebSocket operations run on: the request hooks, plus an id, span and
/// origin of their own for each operation (`request_ids`). HTTP requests run on
/// `HttpGraphql`.
pub fn build_websocket_schema(app: Arc<App>) -> AppSchema {
    let documents = Arc::new(Documents::from_config(&app.config));
    schema(app, documents, Flavour::WebSocket)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Http,
    WebSocket,
    /// No extension and only the validation variables can change: for requests
    /// that already passed everything on the `Http` one (`service.rs`).
    Bare,
}

// async-graphql calls every extension for every field it resolves (a boxed future
// each), so an extension is added only where it does something: the per-operation
// ids on WebSockets only (HTTP requests have theirs from the HTTP layer), the
// operation spans only when traces are exported.
fn schema(app: Arc<App>, documents: Arc<Documents>, flavour: Flavour) -> AppSchema {
    let limits = limits::QueryLimits::from_config(&app.config);
    let mut builder = Schema::build(QueryRoot::default(), MutationRoot::default(), Subscription)
        .limit_complexity(limits.max_complexity);
    if flavour == Flavour::Bare {
        builder = builder.validation_mode(async_graphql::ValidationMode::Fast);
    } else {
        builder = builder.extension(hooks::RequestHooks { limits, documents });
        if flavour == Flavour::WebSocket {
            builder = builder.extension(request_ids::RequestIds);
        }
        if crate::traces::enabled() {
            builder = builder.extension(operation_spans::OperationSpans);
        }
    }
    let builder = if app.config.graphql.graphql_introspection {
        builder
    } else {
        builder.disable_introspection()
    };
    builder.data(app).finish()
}

/// For a request over GET, which may only run a query: reads its persisted-query
/// extension (as the request hooks would) and tells whether the operation it selects
/// is a query. A document that does not parse, or selects nothing, counts as one: the
/// request then fails with async-graphql's own words.
pub fn selects_query(
    documents: &Documents,
    request: &mut async_graphql::Request,
) -> Result<bool, async_graphql::ServerError> {
    use async_graphql::parser::types::{ExecutableDocument, OperationType};
    // A request async-graphql will refuse for its name runs nothing: let it say so.
    fn is_query(document: &ExecutableDocument, name: Option<&str>) -> bool {
        operation::selected(document, name).is_none_or(|(_, op)| op.node.ty == OperationType::Query)
    }
    persisted::resolve(documents, request)?;
    let key = persisted::note(request).key;
    let name = request.operation_name.as_deref();
    Ok(match documents.get(&key) {
        Some(entry) => is_query(entry.document(), name),
        None => async_graphql::parser::parse_query(&request.query)
            .map_or(true, |document| is_query(&document, name)),
    })
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot::default(), MutationRoot::default(), Subscription)
        .finish()
        .sdl()
}

/// The authenticated user, if any, for one request or WebSocket connection.
#[derive(Clone)]
pub struct Viewer(pub Option<User>);

/// The token a request or connection authenticated with (`changePassword` keeps it).
#[derive(Clone, Copy)]
pub struct RequestToken(pub Option<TokenId>);

/// The address a request or connection comes from (sign-in attempts are limited
/// per address).
#[derive(Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Attaches per-request data: who is asking, with which token, from where, and
/// loaders whose cache lives as long as the request.
pub fn prepare_request(
    request: async_graphql::Request,
    app: &App,
    viewer: Option<Authenticated>,
    client: IpAddr,
) -> async_graphql::Request {
    let token = viewer.as_ref().map(|auth| auth.token_id);
    request
        .data(Viewer(viewer.map(|auth| auth.user)))
        .data(RequestToken(token))
        .data(ClientIp(client))
        .data(Loaders::new(&app.db))
}

/// Set on a WebSocket connection while its rights are in doubt (its user was just
/// announced as changed, or for good once they are gone): every operation on it is
/// then answered as unauthenticated, whatever the socket was opened with.
#[derive(Clone, Default)]
pub struct Suspended(pub Arc<std::sync::atomic::AtomicBool>);

impl Suspended {
    pub fn set(&self, suspended: bool) {
        self.0.store(suspended, std::sync::atomic::Ordering::SeqCst);
    }

    fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The same for a WebSocket connection, with loaders that do not cache: the
/// connection outlives any one event.
pub fn connection_data(
    app: &App,
    viewer: Option<Authenticated>,
    suspended: Suspended,
    client: IpAddr,
) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(RequestToken(viewer.as_ref().map(|auth| auth.token_id)));
    data.insert(Viewer(viewer.map(|auth| auth.user)));
    data.insert(ClientIp(client));
    data.insert(suspended);
    data.insert(Loaders::uncached(&app.db));
    data.insert(subscription::SocketSubscriptions::new(
        app.config.http.ws_max_subscriptions_per_socket,
    ));
    data
}

pub(crate) trait ContextExt {
    fn app(&self) -> &Arc<App>;
    fn viewer(&self) -> Result<&User>;
    fn loaders(&self) -> &Loaders;
    /// The viewer with the token the request came with.
    fn authenticated(&self) -> Result<Authenticated>;
    /// The client's address (unspecified when the transport did not say).
    fn client_ip(&self) -> IpAddr;
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &Arc<App> {
        self.data_unchecked::<Arc<App>>()
    }

    fn viewer(&self) -> Result<&User> {
        if self.data_opt::<Suspended>().is_some_and(Suspended::get) {
            return Err(Error::Unauthenticated);
        }
        self.data_opt::<Viewer>()
            .and_then(|v| v.0.as_ref())
            .ok_or(Error::Unauthenticated)
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Loaders>()
    }

    fn authenticated(&self) -> Result<Authenticated> {
        let user = self.viewer()?.clone();
        let token_id = self
            .data_opt::<RequestToken>()
            .and_then(|token| token.0)
            .ok_or(Error::Unauthenticated)?;
        Ok(Authenticated { user, token_id })
    }

    fn client_ip(&self) -> IpAddr {
        self.data_opt::<ClientIp>()
            .map_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), |ip| ip.0)
    }
}

/// Parses an `ID` argument as a global id of the type the argument names, or
/// `BAD_USER_INPUT` (a malformed id, or an id of another type).
pub(crate) fn parse_id<T: GlobalId>(id: &async_graphql::ID) -> Result<T> {
    T::from_global_id(id).ok_or_else(|| {
        Error::bad_input(format!(
            "`{}` is not an id of type {}",
            id.chars().take(64).collect::<String>(),
            T::TYPE_NAME
        ))
    })
}
