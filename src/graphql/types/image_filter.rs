//! `input ImageFilter` and `enum ImageOrder`: which images `images` lists, in which
//! order. Every value is checked here, before any statement runs.

use async_graphql::{Enum, ID, InputObject};
use chrono::{DateTime, Utc};

use super::image::{AnalysisStatusGql, ImageSourceGql};
use crate::error::{Error, Result};
use crate::graphql::pagination::Ordering;
use crate::graphql::parse_id;
use crate::text::{MAX_TAG_CHARS, MAX_TAGS};
use imagegraph_db::UserId;
use imagegraph_db::models::image::{ImageFilter, ImageOrder};

/// Search text longer than this is refused.
pub(crate) const MAX_SEARCH_CHARS: usize = 500;

/// Which images to list; every field given must hold.
#[derive(InputObject, Default)]
#[graphql(name = "ImageFilter")]
pub(crate) struct ImageFilterInput {
    /// Full-text search over description, prompt, tags and comments, in web search
    /// syntax: words (all must occur, in any form: `cats` finds `cat`), `"a phrase"`,
    /// `or`, and `-word` to leave out. English stop words alone match nothing. 1 to
    /// 500 characters.
    search: Option<String>,
    /// Images carrying every one of these tags (at most 10, each at most 32
    /// characters; matched as normalised: lower case, trimmed).
    tags: Option<Vec<String>>,
    /// Images of this user.
    owner_id: Option<ID>,
    source: Option<ImageSourceGql>,
    analysis_status: Option<AnalysisStatusGql>,
    /// Uploaded strictly after this instant.
    uploaded_after: Option<DateTime<Utc>>,
    /// Uploaded strictly before this instant.
    uploaded_before: Option<DateTime<Utc>>,
}

/// The order of `images`.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "ImageOrder")]
pub(crate) enum ImageOrderGql {
    /// Newest first.
    #[default]
    Newest,
    /// Best match of `filter.search` first, then newest. Only with a search.
    Relevance,
}

impl ImageFilterInput {
    /// The filter as the database takes it, or `BAD_USER_INPUT` naming the field.
    pub(crate) fn into_filter(self) -> Result<ImageFilter> {
        let search = self
            .search
            .as_deref()
            .map(|text| crate::text::clean(text, "`filter.search`", MAX_SEARCH_CHARS))
            .transpose()?
            .map(str::to_owned);
        let mut tags: Vec<String> = Vec::new();
        let given = self.tags.unwrap_or_default();
        if given.len() > MAX_TAGS {
            return Err(Error::bad_input(format!(
                "`filter.tags` holds {} tags; the limit is {MAX_TAGS}",
                given.len()
            )));
        }
        for raw in &given {
            let tag = crate::text::tag(raw).ok_or_else(|| {
                Error::bad_input(format!(
                    "`filter.tags`: `{}` is not a tag (1 to {MAX_TAG_CHARS} visible characters)",
                    raw.chars().take(64).collect::<String>()
                ))
            })?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let owner_id = self.owner_id.as_ref().map(parse_id::<UserId>).transpose()?;
        Ok(ImageFilter {
            parent_id: None,
            search,
            tags,
            owner_id,
            source: self.source.map(Into::into),
            analysis_status: self.analysis_status.map(Into::into),
            uploaded_after: self.uploaded_after,
            uploaded_before: self.uploaded_before,
        })
    }
}

impl ImageOrderGql {
    /// The database's order and the cursors it takes; RELEVANCE needs a search.
    pub(crate) fn for_filter(self, filter: &ImageFilter) -> Result<(ImageOrder, Ordering)> {
        match self {
            Self::Newest => Ok((ImageOrder::Newest, Ordering::Newest)),
            Self::Relevance if filter.search.is_some() => {
                Ok((ImageOrder::Relevance, Ordering::Relevance))
            }
            Self::Relevance => Err(Error::bad_input(
                "`orderBy: RELEVANCE` needs a `filter.search` to rank by",
            )),
        }
    }
}
