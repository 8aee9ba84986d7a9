//! Traces: the code's `tracing` spans exported as OpenTelemetry spans over OTLP/HTTP
//! (protobuf, or JSON with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`). Off, and free,
//! unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
//! set; the other standard variables apply too (`OTEL_SERVICE_NAME`, default
//! `imagegraph`; `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*`).
//!
//! Spans: `http_request` (continuing a W3C `traceparent`), `graphql_operation` (name
//! and type, never variables), `db.statement` (text without parameters), `storage.*`,
//! `ai.*` (model, tokens, outcome), `job` (continuing the trace of the request that
//! enqueued it, whose `traceparent` is kept with the job) and `edit`.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Level, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::Registry;
use tracing_subscriber::filter::filter_fn;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: when not, nothing here does any work.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The exporting provider, flushed when the process ends.
pub struct Exporter(SdkTracerProvider);

impl Exporter {
    /// Sends the spans still buffered; call before exiting.
    pub fn shutdown(self) {
        if let Err(err) = self.0.shutdown() {
            eprintln!("flushing traces failed: {err}");
        }
    }
}

pub(crate) type BoxedLayer = Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>;

/// The OpenTelemetry layer, when an OTLP endpoint is configured.
pub(crate) fn layer() -> anyhow::Result<Option<(BoxedLayer, Exporter)>> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled
        || !(set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("configuring the OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = set("OTEL_SERVICE_NAME")
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    if !named {
        resource = resource.with_service_name("imagegraph");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("imagegraph");
    ENABLED.store(true, Ordering::Relaxed);
    // Our own spans at any level (statements are `debug`, so the log at `info` never
    // pays for them), and events worth a look as span events.
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_filter(filter_fn(|meta| {
            if meta.is_span() {
                meta.target().starts_with("imagegraph")
            } else {
                *meta.level() <= Level::INFO
            }
        }))
        .boxed();
    Ok(Some((layer, Exporter(provider))))
}

/// One `traceparent` value, as a propagator reads headers.
struct Traceparent<'a>(&'a str);

impl Extractor for Traceparent<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Makes `span` a child of the span a W3C `traceparent` names; an invalid one is
/// ignored (the span starts a trace of its own).
pub fn continue_trace(span: &Span, traceparent: &str) {
    if !enabled() {
        return;
    }
    let context = TraceContextPropagator::new().extract(&Traceparent(traceparent));
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The W3C `traceparent` naming `span`, for work that continues it elsewhere (jobs).
pub fn traceparent(span: &Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let context = span.context();
    let span_ref = context.span();
    let ids = span_ref.span_context();
    ids.is_valid().then(|| {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            ids.trace_id(),
            ids.span_id(),
            ids.trace_flags().to_u8()
        )
    })
}

/// For the job runner: the job's span continues the enqueuing request's trace, and the
/// jobs it enqueues in turn continue the job's.
pub fn continue_job(span: &Span, traceparent: Option<&str>) -> Option<String> {
    if !enabled() {
        return traceparent.map(str::to_owned);
    }
    if let Some(parent) = traceparent {
        continue_trace(span, parent);
    }
    self::traceparent(span)
}
