use async_graphql::{Context, Enum, ID, Object};
use imagegraph_db::GlobalId as _;

use super::{ApiToken, User};
use crate::error::{Error, Result};
use crate::graphql::ContextExt as _;
use imagegraph_db::models::Role;

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Admin,
    Member,
}

impl From<Role> for RoleGql {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
        }
    }
}

impl From<RoleGql> for Role {
    fn from(role: RoleGql) -> Self {
        match role {
            RoleGql::Admin => Self::Admin,
            RoleGql::Member => Self::Member,
        }
    }
}

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        ID(self.id.global_id())
    }

    async fn name(&self) -> &str {
        &self.name
    }

    async fn role(&self) -> RoleGql {
        self.role.into()
    }

    async fn created_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.created_at
    }

    /// Whether the user is disabled (their tokens refused, no sign-in). Only admins
    /// and the user themselves may ask; anyone else gets `FORBIDDEN`.
    async fn disabled(&self, ctx: &Context<'_>) -> Result<bool> {
        let viewer = ctx.viewer()?;
        if viewer.id != self.id && !viewer.is_admin() {
            return Err(Error::forbidden(
                "only admins and the user themselves can see whether a user is disabled",
            ));
        }
        Ok(self.is_disabled())
    }

    /// The user's live API tokens, oldest first, without their secrets. Only the
    /// user themselves may ask (`viewer { apiTokens { ... } }`); anyone else gets
    /// `FORBIDDEN`.
    #[graphql(complexity = "100 * child_complexity")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ApiToken>> {
        let viewer = ctx.viewer()?;
        if viewer.id != self.id {
            return Err(Error::forbidden(
                "only the user themselves can list their tokens",
            ));
        }
        let tokens = crate::use_cases::users::api_tokens(&ctx.app().db, viewer).await?;
        Ok(tokens.into_iter().map(ApiToken).collect())
    }
}
