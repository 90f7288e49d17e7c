//! Serving a fake over real HTTP on a loopback port, for every fake here (and the GitHub loop bench).

/// Serve `app` on a free loopback port of the current runtime; its address.
pub async fn serve(app: axum::Router, name: &'static str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap_or_else(|e| panic!("{name} serves: {e}")) });
    addr
}
