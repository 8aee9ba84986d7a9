use crate::ids::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::page::{Direction, Page, PageRequest};
use crate::schema::users;
use crate::text_enum::text_enum;

text_enum! {
    pub enum Role { Admin => "ADMIN", Member => "MEMBER" }
}

diesel::define_sql_function! {
    /// PostgreSQL's `lower(text)`: names are unique and found whatever their case
    /// (the `users_name_lower` index).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A user. The password hash is deliberately not part of it: users are cached,
/// logged with `?` and passed everywhere; the hash is read only where it is checked.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// Set while the user is disabled: their tokens are refused and they cannot sign in.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// The one authorisation rule for things people own (images, comments, runs,
    /// generations): their owner may manage them, and so may any admin.
    pub fn may_manage(&self, owner: UserId) -> bool {
        self.id == owner || self.is_admin()
    }

    pub async fn insert(conn: &mut AsyncPgConnection, name: &str, role: Role) -> QueryResult<User> {
        Self::insert_with_password(conn, name, role, None).await
    }

    /// A new user; `password_hash` is a PHC string (or none: tokens only).
    pub async fn insert_with_password(
        conn: &mut AsyncPgConnection,
        name: &str,
        role: Role,
        password_hash: Option<&str>,
    ) -> QueryResult<User> {
        let user = User {
            id: UserId::new(),
            name: name.to_owned(),
            role,
            created_at: Utc::now(),
            disabled_at: None,
        };
        diesel::insert_into(users::table)
            .values((&user, users::password_hash.eq(password_hash)))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    /// The user of that name, whatever its case.
    pub async fn find_by_name(
        conn: &mut AsyncPgConnection,
        name: &str,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(lower(users::name).eq(lower(name)))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The user of that name (whatever its case) and its password hash, if any.
    pub async fn find_credentials(
        conn: &mut AsyncPgConnection,
        name: &str,
    ) -> QueryResult<Option<(User, Option<String>)>> {
        users::table
            .filter(lower(users::name).eq(lower(name)))
            .select((User::as_select(), users::password_hash))
            .first(conn)
            .await
            .optional()
    }

    /// A user's password hash (`None`: no password set, or no such user).
    pub async fn password_hash(
        conn: &mut AsyncPgConnection,
        id: UserId,
    ) -> QueryResult<Option<String>> {
        Ok(users::table
            .find(id)
            .select(users::password_hash)
            .first::<Option<String>>(conn)
            .await
            .optional()?
            .flatten())
    }

    pub async fn set_password_hash(
        conn: &mut AsyncPgConnection,
        id: UserId,
        password_hash: &str,
    ) -> QueryResult<bool> {
        Ok(diesel::update(users::table.find(id))
            .set(users::password_hash.eq(password_hash))
            .execute(conn)
            .await?
            > 0)
    }

    /// Sets the role and/or the disabled state; returns the user as it is now.
    pub async fn update_account(
        conn: &mut AsyncPgConnection,
        id: UserId,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> QueryResult<Option<User>> {
        let current: Option<User> = users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some(current) = current else {
            return Ok(None);
        };
        let role = role.unwrap_or(current.role);
        // Disabling an already disabled user keeps the time it was first disabled.
        let disabled_at = match disabled {
            None => current.disabled_at,
            Some(false) => None,
            Some(true) => Some(current.disabled_at.unwrap_or_else(Utc::now)),
        };
        if role == current.role && disabled_at == current.disabled_at {
            return Ok(Some(current));
        }
        diesel::update(users::table.find(id))
            .set((users::role.eq(role), users::disabled_at.eq(disabled_at)))
            .returning(User::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Locks the user's row until the transaction ends and returns its password hash
    /// and disabled time (`None`: no such user). Whoever mints a token after checking
    /// a password (or a token) reads these again under the lock, so a password changed
    /// or a user disabled meanwhile is seen.
    pub async fn lock_credentials(
        conn: &mut AsyncPgConnection,
        id: UserId,
    ) -> QueryResult<Option<(Option<String>, Option<DateTime<Utc>>)>> {
        users::table
            .find(id)
            .select((users::password_hash, users::disabled_at))
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    /// Locks every active (not disabled) admin's row and returns their ids: whoever
    /// changes an admin's role or state takes these locks first, so two such changes
    /// at once cannot both leave no active admin behind.
    pub async fn lock_active_admins(conn: &mut AsyncPgConnection) -> QueryResult<Vec<UserId>> {
        users::table
            .filter(users::role.eq(Role::Admin))
            .filter(users::disabled_at.is_null())
            .order(users::id)
            .select(users::id)
            .for_update()
            .load(conn)
            .await
    }

    pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<User>> {
        users::table
            .order(users::created_at)
            .select(User::as_select())
            .load(conn)
            .await
    }

    /// Users newest first, a keyset page.
    pub async fn page(conn: &mut AsyncPgConnection, req: &PageRequest) -> QueryResult<Page<User>> {
        let mut query = users::table.into_boxed();
        if let Some(keyset) = req.cursor_filter("users") {
            query = query.filter(keyset);
        }
        query = match req.direction {
            Direction::Forward => query.order((users::created_at.desc(), users::id.desc())),
            Direction::Backward => query.order((users::created_at.asc(), users::id.asc())),
        };
        let rows = query
            .limit(req.limit + 1)
            .select(User::as_select())
            .load(conn)
            .await?;
        Ok(Page::from_rows(rows, req))
    }

    pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
        users::table.count().get_result(conn).await
    }
}

super::by_id!(User, users, UserId);
