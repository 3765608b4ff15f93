//! The process's HTTP server: what `actix_web::HttpServer` builds (one
//! actix-server listener per address, HTTP/1.1 over plain TCP), with every
//! connection behind [`CheckedStream`], so malformed framing is answered
//! with the JSON error body (see [`crate::framing`]). `HttpServer` has no
//! hook to wrap the connection, hence the few lines it would otherwise do.

use std::fmt;
use std::io;
use std::net::{TcpListener, ToSocketAddrs};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, KeepAlive, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::error::Error;
use tokio::net::TcpStream;

use crate::framing::CheckedStream;

/// How long a closing connection may take to read our last answer, as
/// `HttpServer`'s default.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Listens on every address `listen` resolves to and serves the app
/// `factory` builds (once per worker). Stops on SIGTERM/SIGINT, giving
/// in-flight requests `shutdown_timeout_secs`.
pub fn serve<F, I, S, B>(
    listen: &str,
    workers: usize,
    shutdown_timeout_secs: u64,
    factory: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let mut builder = Server::build()
        .workers(workers)
        .shutdown_timeout(shutdown_timeout_secs);
    let mut bound = false;
    for address in listen.to_socket_addrs()? {
        let listener = TcpListener::bind(address)?;
        let local = listener.local_addr()?;
        let factory = factory.clone();
        let shutdown = builder.graceful_shutdown_signal();
        builder = builder.listen(format!("callvault-http-{local}"), listener, move || {
            let shutdown = shutdown.clone();
            let app = factory()
                .into_factory()
                .map_err(|error| error.into().error_response());
            let http = HttpService::build()
                .keep_alive(KeepAlive::default())
                // The head timeout is CheckedStream's, answered in JSON.
                .client_request_timeout(Duration::ZERO)
                .client_disconnect_timeout(DISCONNECT_TIMEOUT)
                .local_addr(local)
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                // Nothing here reads the app config (host, address): its
                // default stands in for the one HttpServer would build.
                .h1(map_config(app, |_| AppConfig::default()));
            fn_service(|io: TcpStream| async move {
                // As HttpServer: answers go out without Nagle's delay.
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok((CheckedStream::new(io), peer))
            })
            .and_then(http)
        })?;
        bound = true;
    }
    if !bound {
        return Err(io::Error::other(format!("{listen} resolves to no address")));
    }
    Ok(builder.run())
}
