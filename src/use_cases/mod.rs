//! What the service does, one module per capability. Resolvers and jobs call these;
//! they call the database, storage and AI provider. Nothing here knows about HTTP or
//! GraphQL.

pub mod analysis;
pub mod benchmark;
pub mod comments;
pub mod edits;
pub mod gc;
pub mod generation;
pub mod images;
pub mod quota;
pub mod users;

/// Declares the job type of a use case module: a payload struct holding one id,
/// whose run, retry and give-up hooks are the module's `run`, `retrying` and
/// `give_up` functions.
macro_rules! job {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $field:ident: $id:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub $field: $id,
        }

        impl imagegraph_jobs::Job for $name {
            const KIND: &'static str = $kind;
            type Context = std::sync::Arc<crate::app::App>;

            async fn run(
                &self,
                app: &std::sync::Arc<crate::app::App>,
            ) -> Result<(), imagegraph_jobs::JobError> {
                run(app, self.$field).await
            }

            async fn retrying(
                &self,
                app: &std::sync::Arc<crate::app::App>,
            ) -> Result<(), imagegraph_jobs::JobError> {
                Ok(retrying(app, self.$field).await?)
            }

            async fn give_up(
                &self,
                app: &std::sync::Arc<crate::app::App>,
                message: &str,
            ) -> Result<(), imagegraph_jobs::JobError> {
                Ok(give_up(app, self.$field, message).await?)
            }
        }
    };
}

use job;
