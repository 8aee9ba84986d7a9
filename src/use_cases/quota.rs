//! Per-owner quotas on what is kept: images (versions included) and their bytes.
//! Admins are exempt. The check runs in the transaction that adds the row, with the
//! owner's row locked, so two concurrent uploads cannot both take the last slot; a
//! cheaper unlocked check before any work refuses early what is already over.

use diesel::sql_types::{Bool, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl as _};
use imagegraph_db::UserId;

use crate::app::App;
use crate::config::QuotaConfig;
use crate::error::{Error, QuotaExceeded, Result};

/// What one new row would add.
#[derive(Debug, Clone, Copy)]
pub struct Addition {
    pub images: u64,
    pub bytes: u64,
}

impl Addition {
    /// One image whose size is not known yet.
    pub const IMAGE: Self = Self {
        images: 1,
        bytes: 0,
    };
}

/// The cheap unlocked check before any work, so that what is already over is refused
/// before pixels are decoded or a provider is paid.
pub async fn check_early(app: &App, owner: UserId, addition: Addition) -> Result<()> {
    check(
        &mut *app.db.conn().await?,
        &app.config.quotas,
        owner,
        addition,
        false,
    )
    .await
}

#[derive(diesel::QueryableByName)]
struct Holdings {
    #[diesel(sql_type = Bool)]
    exempt: bool,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    images: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
}

/// Refuses `addition` when it would take `owner` past a quota. With `lock`, the
/// owner's row stays locked until the surrounding transaction ends.
pub async fn check(
    conn: &mut AsyncPgConnection,
    quotas: &QuotaConfig,
    owner: UserId,
    addition: Addition,
    lock: bool,
) -> Result<()> {
    if quotas.quota_max_images == 0 && quotas.quota_max_stored_mb == 0 {
        return Ok(());
    }
    if lock {
        // A statement of its own: under READ COMMITTED the counts below then see what
        // a transaction that held the lock before us committed. (Counted in the same
        // statement as the lock, they would come from a snapshot taken before the wait.)
        diesel::sql_query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind::<SqlUuid, _>(owner.uuid())
            .execute(conn)
            .await?;
    }
    let sql = "SELECT u.role = 'ADMIN' AS exempt, \
                (SELECT count(*) FROM images WHERE owner_id = u.id) AS images, \
                (SELECT coalesce(sum(byte_size), 0)::bigint FROM images WHERE owner_id = u.id) AS bytes \
         FROM users u WHERE u.id = $1";
    let Some(held) = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(owner.uuid())
        .get_result::<Holdings>(conn)
        .await
        .map(Some)
        .or_else(|err| match err {
            diesel::result::Error::NotFound => Ok(None),
            other => Err(other),
        })?
    else {
        return Err(Error::NotFound("user"));
    };
    if held.exempt {
        return Ok(());
    }
    let limits = [
        (
            "images",
            held.images,
            addition.images,
            quotas.quota_max_images,
        ),
        (
            "storedBytes",
            held.bytes,
            addition.bytes,
            quotas.quota_max_stored_mb.saturating_mul(1024 * 1024),
        ),
    ];
    for (quota, used, requested, limit) in limits {
        let used = u64::try_from(used).unwrap_or(0);
        if limit > 0 && used.saturating_add(requested) > limit {
            return Err(Error::QuotaExceeded(QuotaExceeded {
                quota,
                used,
                requested,
                limit,
            }));
        }
    }
    Ok(())
}
