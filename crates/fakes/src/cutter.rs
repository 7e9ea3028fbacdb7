//! A receiver that drops connections: a TCP front for another receiver that
//! reads the first `n` requests whole and then closes the connection without
//! a word (as a crashing receiver or a load balancer cutting an idle backend
//! does). Later connections are passed through to the receiver behind it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

pub struct ConnectionCutter {
    addr: SocketAddr,
    cut: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectionCutter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectionCutter {
    /// Listens on 127.0.0.1; cuts the first `cut_first` connections after
    /// their request has arrived, then forwards to `backend`.
    pub async fn start(backend: SocketAddr, cut_first: usize) -> ConnectionCutter {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the cutter");
        let addr = listener.local_addr().expect("local addr");
        let cut = Arc::new(AtomicUsize::new(0));
        let counter = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let cutting = counter
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                            (n < cut_first).then_some(n + 1)
                        })
                        .is_ok();
                    if cutting {
                        read_request_then_close(conn).await;
                    } else if let Ok(mut upstream) = TcpStream::connect(backend).await {
                        let mut conn = conn;
                        let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                    }
                });
            }
        });
        ConnectionCutter { addr, cut, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// How many connections were cut so far.
    pub fn cut(&self) -> usize {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Reads the request head and its Content-Length body, then drops the socket.
async fn read_request_then_close(mut conn: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() >= head_end + 4 + length {
            return; // the whole request is here: close without answering
        }
    }
}
