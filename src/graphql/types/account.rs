//! Accounts: API tokens as their owners see them, and the inputs and payloads of
//! the account mutations. Inputs that carry a password implement `Debug` by hand,
//! so no log line can show one.

use std::fmt;

use async_graphql::{ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use imagegraph_db::GlobalId as _;
use imagegraph_db::models::token;

use super::User;
use super::user::RoleGql;

/// `type ApiToken`: never the secret, nor its hash.
#[derive(Debug, Clone)]
pub(crate) struct ApiToken(pub(crate) token::ApiToken);

impl From<token::ApiToken> for ApiToken {
    fn from(row: token::ApiToken) -> Self {
        Self(row)
    }
}

/// An API token of the viewer's. Its secret was shown once, when it was made.
#[Object]
impl ApiToken {
    pub async fn id(&self) -> ID {
        ID(self.0.id.global_id())
    }

    /// What the token is for (`login` for tokens made by signing in, `cli` for
    /// tokens made by the CLI).
    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the token last authenticated a request, to the minute: recorded at most
    /// once a minute. `null` if never.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

fn redacted(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    fields: &[(&str, &dyn fmt::Debug)],
) -> fmt::Result {
    let mut out = f.debug_struct(name);
    for (field, value) in fields {
        out.field(field, value);
    }
    out.finish_non_exhaustive()
}

#[derive(InputObject)]
pub(crate) struct LoginInput {
    /// The user's name, in any case.
    pub name: String,
    pub password: String,
}

impl fmt::Debug for LoginInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted(f, "LoginInput", &[("name", &self.name)])
    }
}

#[derive(SimpleObject)]
pub(crate) struct LoginPayload {
    /// A new API token (`Authorization: Bearer <token>`), shown only this once.
    pub token: String,
    /// The token's record, to revoke it later (signing out).
    pub api_token: ApiToken,
    pub user: User,
}

#[derive(InputObject)]
pub(crate) struct CreateUserInput {
    /// 1 to 64 ASCII letters, digits, `-`, `_` or `.`; unique whatever the case.
    pub name: String,
    /// At least 10 characters, at most 1024 bytes.
    pub password: String,
    #[graphql(default_with = "RoleGql::Member")]
    pub role: RoleGql,
}

impl fmt::Debug for CreateUserInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted(f, "CreateUserInput", &[("name", &self.name)])
    }
}

#[derive(SimpleObject)]
pub(crate) struct CreateUserPayload {
    pub user: User,
}

#[derive(InputObject, Debug)]
pub(crate) struct UpdateUserInput {
    pub id: ID,
    /// The new role; unchanged when left out.
    pub role: Option<RoleGql>,
    /// Disable (`true`: their tokens stop working at once and they cannot sign in) or
    /// enable (`false`) the user; unchanged when left out.
    pub disabled: Option<bool>,
}

#[derive(SimpleObject)]
pub(crate) struct UpdateUserPayload {
    pub user: User,
}

#[derive(InputObject, Debug)]
pub(crate) struct CreateApiTokenInput {
    /// What the token is for: 1 to 64 characters after trimming.
    pub name: String,
}

#[derive(SimpleObject)]
pub(crate) struct CreateApiTokenPayload {
    /// The secret (`Authorization: Bearer <token>`), shown only this once.
    pub token: String,
    pub api_token: ApiToken,
}

#[derive(InputObject, Debug)]
pub(crate) struct RevokeApiTokenInput {
    /// One of the viewer's own tokens.
    pub id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct RevokeApiTokenPayload {
    pub revoked_api_token_id: ID,
}

#[derive(InputObject)]
pub(crate) struct ChangePasswordInput {
    /// The password now. A user with none gets a first one from the CLI
    /// (`imagegraph users password NAME`).
    pub current_password: String,
    /// At least 10 characters, at most 1024 bytes.
    pub new_password: String,
}

impl fmt::Debug for ChangePasswordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted(f, "ChangePasswordInput", &[])
    }
}

#[derive(SimpleObject)]
pub(crate) struct ChangePasswordPayload {
    pub user: User,
    /// How many of the user's other tokens were revoked (all but the one this request
    /// came with).
    pub revoked_token_count: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_with_passwords_keep_them_out_of_debug() {
        let secret = "correct horse battery staple";
        let login = LoginInput {
            name: "alice".into(),
            password: secret.into(),
        };
        let create = CreateUserInput {
            name: "bob".into(),
            password: secret.into(),
            role: RoleGql::Member,
        };
        let change = ChangePasswordInput {
            current_password: secret.into(),
            new_password: secret.into(),
        };
        for debug in [
            format!("{login:?}"),
            format!("{create:?}"),
            format!("{change:?}"),
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(format!("{login:?}").contains("alice"));
    }
}
