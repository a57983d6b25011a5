//! Logging: structured `tracing` output, human-readable or JSON. Request logs carry the request
//! id, method and path only: never bodies, query strings, tokens or clinical values.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// A `LOG_LEVEL` filter, checked when the configuration is read.
pub enum LogFilter {
    /// Levels per target (`info`, `oncology_registry=debug,info`). Decided once per call site:
    /// `EnvFilter` would also take a shared lock on every span entered and left, which is every
    /// poll of every request.
    Static(Box<Targets>),
    /// Directives on spans or their fields (`[request]=debug`), which only `EnvFilter` reads.
    Spans(Box<EnvFilter>),
}

impl LogFilter {
    pub fn parse(directives: &str) -> Result<Self, String> {
        let directives = directives.trim();
        if directives.is_empty() {
            return Err("is empty".into());
        }
        if directives.contains('[') {
            EnvFilter::try_new(directives)
                .map(|filter| Self::Spans(Box::new(filter)))
                .map_err(|e| e.to_string())
        } else {
            directives
                .parse::<Targets>()
                .map(|targets| Self::Static(Box::new(targets)))
                .map_err(|e| e.to_string())
        }
    }

    fn layer(self) -> Box<dyn Layer<Registry> + Send + Sync> {
        match self {
            Self::Static(targets) => targets,
            Self::Spans(filter) => filter,
        }
    }
}

pub fn init(filter: LogFilter, format: LogFormat) {
    let output = tracing_subscriber::fmt::layer().with_target(false);
    let registry = tracing_subscriber::registry().with(filter.layer());
    // A second initialisation (tests) is harmless and ignored.
    let _ = match format {
        LogFormat::Human => registry.with(output).try_init(),
        LogFormat::Json => registry.with(output.json().flatten_event(true)).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing::level_filters::LevelFilter;

    use super::LogFilter;

    #[test]
    fn levels_per_target_are_static_and_span_directives_need_the_env_filter() {
        match LogFilter::parse("oncology_registry=debug,tower_http=warn,info") {
            Ok(LogFilter::Static(targets)) => {
                assert!(targets.would_enable("oncology_registry::app", &Level::DEBUG));
                assert!(!targets.would_enable("tower_http::trace", &Level::INFO));
                assert!(targets.would_enable("hyper", &Level::INFO));
                assert!(!targets.would_enable("hyper", &Level::DEBUG));
            }
            _ => panic!("levels per target are a static filter"),
        }
        match LogFilter::parse("[request]=debug,info") {
            Ok(LogFilter::Spans(filter)) => {
                assert_eq!(filter.max_level_hint(), Some(LevelFilter::DEBUG));
            }
            _ => panic!("a span directive needs the env filter"),
        }
    }

    #[test]
    fn a_malformed_filter_is_refused() {
        for bad in ["", "  ", "info=loud", "a=b=c", "[request=debug"] {
            assert!(LogFilter::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
