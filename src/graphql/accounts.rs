//! The account API: signing in, users (admins), API tokens and passwords. Merged into
//! the query and mutation roots (`QueryRoot`, `MutationRoot`).
//!
//! Every mutation here is counted in usage (`usage.function`) and rate-limited:
//! `login` per client address and per name, `changePassword` per name too (it checks
//! a password), the others per user (`RATE_LIMIT_ACCOUNTS_*`).

use async_graphql::{Context, ID, Object};

use super::pagination::{self, page_request};
use super::types::{
    ApiToken, ChangePasswordInput, ChangePasswordPayload, CreateApiTokenInput,
    CreateApiTokenPayload, CreateUserInput, CreateUserPayload, LoginInput, LoginPayload,
    RevokeApiTokenInput, RevokeApiTokenPayload, TotalCount, UpdateUserInput, UpdateUserPayload,
    User, UserConnection,
};
use super::{ContextExt as _, parse_id};
use crate::error::{Error, Result};
use crate::passwords::Password;
use crate::use_cases::users;
use imagegraph_db::GlobalId as _;

#[derive(Default)]
pub(crate) struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// Every user, newest first (admins only).
    #[graphql(
        complexity = "super::limits::connection_complexity(first, None, &pagination::IMAGES, child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most 30; default 10.")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let viewer = ctx.viewer()?;
        if !viewer.is_admin() {
            return Err(Error::forbidden("only admins can list users"));
        }
        let request = page_request(first, after.as_deref(), None, None, &pagination::IMAGES)?;
        let page = users::page(&ctx.app().db, viewer, &request)
            .await?
            .map(User::from);
        Ok(UserConnection::new(page, &request, TotalCount::Users))
    }
}

#[derive(Default)]
pub(crate) struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Signs in with a name and password: a new API token, shown once. Works without
    /// a token. A wrong name and a wrong password get the same `UNAUTHENTICATED`
    /// answer; attempts are limited per address and per name (`RATE_LIMITED`).
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<LoginPayload> {
        let app = ctx.app();
        let (user, new) = app
            .usage
            .function(
                "user.login",
                None,
                users::login(
                    app,
                    ctx.client_ip(),
                    &input.name,
                    Password::new(input.password),
                ),
            )
            .await?;
        Ok(LoginPayload {
            token: new.token,
            api_token: ApiToken(new.api_token),
            user: user.into(),
        })
    }

    /// Creates a user who signs in with `login` (admins only).
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Result<CreateUserPayload> {
        let viewer = ctx.viewer()?;
        if !viewer.is_admin() {
            return Err(Error::forbidden("only admins can create users"));
        }
        let app = ctx.app();
        app.limits.accounts.take(viewer.id)?;
        let user = app
            .usage
            .function(
                "user.create",
                Some(viewer.id),
                users::create_with_password(
                    &app.db,
                    &app.passwords,
                    &input.name,
                    input.role.into(),
                    Password::new(input.password),
                ),
            )
            .await?;
        Ok(CreateUserPayload { user: user.into() })
    }

    /// Changes a user's role or disables them (admins only). The last active admin
    /// can be neither demoted nor disabled (`BAD_USER_INPUT`).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> Result<UpdateUserPayload> {
        let viewer = ctx.viewer()?;
        if !viewer.is_admin() {
            return Err(Error::forbidden("only admins can change users"));
        }
        let app = ctx.app();
        app.limits.accounts.take(viewer.id)?;
        let id = parse_field_id(&input.id, "id")?;
        let user = app
            .usage
            .function(
                "user.update",
                Some(viewer.id),
                users::update_user(
                    &app.db,
                    viewer,
                    id,
                    input.role.map(Into::into),
                    input.disabled,
                ),
            )
            .await?;
        Ok(UpdateUserPayload { user: user.into() })
    }

    /// A new named API token for the viewer; its secret is shown only in this answer.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> Result<CreateApiTokenPayload> {
        let auth = ctx.authenticated()?;
        let app = ctx.app();
        app.limits.accounts.take(auth.user.id)?;
        let new = app
            .usage
            .function(
                "token.create",
                Some(auth.user.id),
                users::create_api_token(&app.db, &auth, &input.name),
            )
            .await?;
        Ok(CreateApiTokenPayload {
            token: new.token,
            api_token: ApiToken(new.api_token),
        })
    }

    /// Revokes one of the viewer's own tokens (the one in use too: signing out).
    /// Anyone else's token is `NOT_FOUND`.
    async fn revoke_api_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiTokenInput,
    ) -> Result<RevokeApiTokenPayload> {
        let viewer = ctx.viewer()?;
        let app = ctx.app();
        app.limits.accounts.take(viewer.id)?;
        let id = parse_field_id(&input.id, "id")?;
        let id = app
            .usage
            .function(
                "token.revoke",
                Some(viewer.id),
                users::revoke_api_token(&app.db, viewer, id),
            )
            .await?;
        Ok(RevokeApiTokenPayload {
            revoked_api_token_id: ID(id.global_id()),
        })
    }

    /// Changes the viewer's password and revokes every other token of theirs,
    /// keeping the one this request came with.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> Result<ChangePasswordPayload> {
        let auth = ctx.authenticated()?;
        let app = ctx.app();
        app.limits.accounts.take(auth.user.id)?;
        let revoked = app
            .usage
            .function(
                "user.change_password",
                Some(auth.user.id),
                users::change_password(
                    app,
                    &auth,
                    Password::new(input.current_password),
                    Password::new(input.new_password),
                ),
            )
            .await?;
        Ok(ChangePasswordPayload {
            user: auth.user.into(),
            revoked_token_count: i32::try_from(revoked).unwrap_or(i32::MAX),
        })
    }
}

/// An id input field, or `BAD_USER_INPUT` naming it.
fn parse_field_id<T: imagegraph_db::GlobalId>(id: &ID, field: &'static str) -> Result<T> {
    parse_id(id).map_err(|err| Error::bad_field(field, err.public_message()))
}
