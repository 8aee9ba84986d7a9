//! The states of a background job (the queue itself is `imagegraph-jobs`).

use crate::text_enum::text_enum;

text_enum! {
    /// Where a job stands. Done jobs are deleted; failed ones stay for inspection.
    pub enum JobStatus { Queued => "QUEUED", Running => "RUNNING", Failed => "FAILED" }
}
