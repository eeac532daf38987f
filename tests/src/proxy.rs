//! A TCP proxy between a device and the registry that misbehaves on purpose: it cuts
//! connections after a set number of bytes, and throttles to a set rate. TLS passes through it
//! untouched, so what the device sees is a real broken or slow link.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the proxy misbehaves.
#[derive(Debug, Clone, Default)]
pub struct ProxyConfig {
    /// For the i-th connection, cut it after this many bytes from the device; connections past
    /// the list are not cut.
    pub cuts: Vec<u64>,
    /// Bytes per second in each direction, if throttled.
    pub rate: Option<u64>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// The port devices connect to.
    pub port: u16,
    upstream: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    cuts_done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

struct Pacer {
    rate: Option<u64>,
    started: Instant,
    sent: u64,
}

impl Pacer {
    fn pace(&mut self, bytes: usize) {
        self.sent += bytes as u64;
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(self.sent as f64 / rate as f64);
            let elapsed = self.started.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: Option<u64>,
    rate: Option<u64>,
    counter: Option<Arc<AtomicU64>>,
    cut: Option<Arc<AtomicU64>>,
) {
    let mut buffer = [0u8; 1024];
    let mut forwarded = 0u64;
    let mut pacer = Pacer {
        rate,
        started: Instant::now(),
        sent: 0,
    };
    loop {
        let want = match limit {
            Some(limit) if forwarded >= limit => {
                if let Some(cut) = &cut {
                    cut.fetch_add(1, Ordering::SeqCst);
                }
                break;
            }
            Some(limit) => buffer.len().min((limit - forwarded) as usize),
            None => buffer.len(),
        };
        let read = match from.read(&mut buffer[..want]) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        pacer.pace(read);
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
        forwarded += read as u64;
        if let Some(counter) = &counter {
            counter.fetch_add(read as u64, Ordering::SeqCst);
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Proxy {
    /// Listens on a free port and forwards to 127.0.0.1:`upstream_port`.
    pub fn start(upstream_port: u16, config: ProxyConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        let port = listener.local_addr().expect("proxy addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let upstream = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let cuts_done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let config = Arc::new(Mutex::new(config));
        {
            let (upstream, connections, cuts_done, stop) = (
                upstream.clone(),
                connections.clone(),
                cuts_done.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let client = match listener.accept() {
                        Ok((client, _)) => client,
                        Err(_) => {
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    };
                    let _ = client.set_nonblocking(false);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let index = connections.fetch_add(1, Ordering::SeqCst) as usize;
                    let (limit, rate) = {
                        let config = config.lock().expect("config");
                        (config.cuts.get(index).copied(), config.rate)
                    };
                    let (Ok(client_2), Ok(server_2)) = (client.try_clone(), server.try_clone())
                    else {
                        continue;
                    };
                    let counter = upstream.clone();
                    let cut = cuts_done.clone();
                    std::thread::spawn(move || {
                        pump(client, server, limit, rate, Some(counter), Some(cut))
                    });
                    std::thread::spawn(move || pump(server_2, client_2, None, rate, None, None));
                }
            });
        }
        Self {
            port,
            upstream,
            connections,
            cuts_done,
            stop,
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Bytes forwarded from devices to the registry so far.
    pub fn upstream_bytes(&self) -> u64 {
        self.upstream.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections cut so far.
    pub fn cuts(&self) -> u64 {
        self.cuts_done.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
