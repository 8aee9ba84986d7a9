use async_graphql::{Enum, ID, Object};
use imagegraph_db::GlobalId as _;

use super::User;
use imagegraph_db::models::Role;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
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
}
