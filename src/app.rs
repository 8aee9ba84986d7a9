//! The application state every handler and resolver shares.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::media::MediaSigner;
use crate::storage::Storage;

pub struct App {
    pub config: Config,
    pub db: Db,
    pub storage: Storage,
    pub media: MediaSigner,
}

impl App {
    pub fn new(config: Config, db: Db, storage: Storage, media_secret: Vec<u8>) -> Arc<Self> {
        let media = MediaSigner::new(
            media_secret,
            config.media_url_ttl_secs,
            &config.public_url(),
        );
        Arc::new(Self {
            config,
            db,
            storage,
            media,
        })
    }
}
