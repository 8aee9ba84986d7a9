use crate::ids::UserId;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::users;
use crate::text_enum::text_enum;

text_enum! {
    pub enum Role { Admin => "ADMIN", Member => "MEMBER" }
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The one authorisation rule for things people own (images, comments, runs,
    /// generations): their owner may manage them, and so may any admin.
    pub fn may_manage(&self, owner: UserId) -> bool {
        self.id == owner || self.is_admin()
    }

    pub async fn insert(conn: &mut AsyncPgConnection, name: &str, role: Role) -> QueryResult<User> {
        let user = User {
            id: UserId::new(),
            name: name.to_owned(),
            role,
            created_at: Utc::now(),
        };
        diesel::insert_into(users::table)
            .values(&user)
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find_by_name(
        conn: &mut AsyncPgConnection,
        name: &str,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(users::name.eq(name))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<User>> {
        users::table
            .order(users::created_at)
            .select(User::as_select())
            .load(conn)
            .await
    }

    pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
        users::table.count().get_result(conn).await
    }
}

super::by_id!(User, users, UserId);
