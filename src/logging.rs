//! The process's log, on stderr (stdout is kept for what a command prints, such as a
//! new token): human-readable text, coloured only when stderr is a terminal, or JSON
//! lines for a log pipeline. `RUST_LOG` filters both.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, span fields in front of the message.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`, the
    /// event's own fields, `span` (the innermost span with its fields) and `spans`.
    Json,
}

/// Installs the global subscriber: the log, and the trace exporter when one is
/// configured (see `crate::traces`), which is returned to be flushed at exit.
pub fn init(format: LogFormat) -> anyhow::Result<Option<crate::traces::Exporter>> {
    // The log's filter is the log's alone: spans the exporter wants (statements, at
    // `debug`) are not written to the log, and cost nothing when neither wants them.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let log: crate::traces::BoxedLayer = match format {
        LogFormat::Text => {
            // Escape sequences in a file or a pipe are noise for whoever greps it.
            let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .with_filter(filter)
                .boxed()
        }
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let mut layers = vec![log];
    let exporter = match crate::traces::layer()? {
        Some((layer, exporter)) => {
            layers.push(layer);
            Some(exporter)
        }
        None => None,
    };
    tracing_subscriber::registry().with(layers).init();
    Ok(exporter)
}
