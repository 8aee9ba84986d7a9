//! The application state every handler and resolver shares.

use std::sync::Arc;

use crate::ai::Provider;
use crate::config::Config;
use crate::events::EventBus;
use crate::media::MediaSigner;
use crate::storage::Storage;
use crate::usage::UsageRecorder;
use chrono::Utc;
use imagegraph_db::Db;

pub struct App {
    pub config: Config,
    pub db: Db,
    pub storage: Storage,
    pub media: MediaSigner,
    pub ai: Provider,
    pub events: EventBus,
    pub usage: Arc<UsageRecorder>,
    /// Memory for pixel work: every decode, thumbnail, edit and preview holds its
    /// declared peak bytes of it while it runs.
    pub pixels: Arc<crate::memory_budget::MemoryBudget>,
    /// Admits large request bodies by what reading and decoding them holds.
    pub bodies: Arc<crate::memory_budget::MemoryBudget>,
    pub limits: crate::ratelimit::RateLimits,
    pub tokens: Arc<crate::token_cache::TokenCache>,
    /// Argon2id hashing on blocking threads, a bounded number at once.
    pub passwords: crate::passwords::PasswordHasher,
}

impl App {
    pub fn new(
        config: Config,
        db: Db,
        storage: Storage,
        media_secret: Vec<u8>,
    ) -> anyhow::Result<Arc<Self>> {
        let media = MediaSigner::new(
            media_secret,
            config.storage.media_url_ttl_secs,
            &config.http.public_url(),
        );
        let ai = Provider::from_settings(crate::ai::OpenAiSettings::from_config(&config.ai))?;
        crate::telemetry::handle();
        let usage = Arc::new(
            UsageRecorder::new(
                config.usage.usage_metrics,
                crate::usage::Retention::from_config(&config.usage),
                Arc::new(Utc::now),
            )
            .with_max_labels(config.usage.usage_max_labels),
        );
        let limits = crate::ratelimit::RateLimits::from_config(&config);
        let pixels = crate::memory_budget::MemoryBudget::pixels(
            config.pixels.memory_budget_mb,
            config.pixels.wait(),
        );
        let bodies = crate::memory_budget::MemoryBudget::bodies(
            config.pixels.memory_budget_mb,
            config.pixels.wait(),
        );
        let passwords =
            crate::passwords::PasswordHasher::new(config.rate_limits.password_hash_concurrency);
        Ok(Arc::new(Self {
            config,
            db,
            storage,
            media,
            ai,
            events: EventBus::default(),
            usage,
            pixels,
            bodies,
            limits,
            tokens: Default::default(),
            passwords,
        }))
    }
}
