//! A TCP proxy on loopback that a test controls: it forwards to a server until the test cuts every
//! connection through it, or turns it into a black hole (connections stay open, nothing passes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub port: u16,
    cut: watch::Sender<u64>,
    hole: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port, forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, _) = watch::channel(0u64);
        let hole = Arc::new(AtomicBool::new(false));
        let (tx, h) = (cut.clone(), hole.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, mut cut, hole) = (upstream.clone(), tx.subscribe(), h.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else { return };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let pump = |mut r: tokio::net::tcp::OwnedReadHalf,
                                mut w: tokio::net::tcp::OwnedWriteHalf,
                                hole: Arc<AtomicBool>| async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match r.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            // A black hole swallows what passes and answers nothing.
                            if !hole.load(Ordering::SeqCst) && w.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = pump(cr, sw, hole.clone()) => {}
                        _ = pump(sr, cw, hole) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { port, cut, hole }
    }

    /// Closes every connection through the proxy now (new ones are still forwarded).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// From now on, nothing passes either way; connections stay open.
    pub fn black_hole(&self) {
        self.hole.store(true, Ordering::SeqCst);
    }
}
