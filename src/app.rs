//! The application state every handler and resolver shares.

use std::sync::Arc;

use crate::ai::Provider;
use crate::config::Config;
use crate::db::Db;
use crate::events::EventBus;
use crate::media::MediaSigner;
use crate::storage::Storage;

pub struct App {
    pub config: Config,
    pub db: Db,
    pub storage: Storage,
    pub media: MediaSigner,
    pub ai: Provider,
    pub events: EventBus,
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
            config.media_url_ttl_secs,
            &config.public_url(),
        );
        let ai = Provider::from_settings(config.openai_settings())?;
        Ok(Arc::new(Self {
            config,
            db,
            storage,
            media,
            ai,
            events: EventBus::default(),
        }))
    }
}
