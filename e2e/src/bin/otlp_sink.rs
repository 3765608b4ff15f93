//! An OTLP collector for benchmarks: receives spans on 127.0.0.1 and counts
//! them, so "tracing on" measures a real exporter at work. Prints its
//! endpoint, then the spans received when stdin closes or it gets SIGTERM.
//!   otlp_sink > endpoint.txt

use callvault_e2e::Collector;

#[tokio::main]
async fn main() {
    let collector = Collector::start().await;
    println!("{}", collector.endpoint());
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            eprintln!("otlp_sink: cannot watch SIGTERM: {error}");
            return;
        }
    };
    term.recv().await;
    eprintln!(
        "otlp_sink: {} spans in {} exports",
        collector.spans().len(),
        collector.exports()
    );
}
