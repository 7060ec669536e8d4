//! Stop requests from outside the run: SIGINT (Ctrl-C) and SIGTERM in the
//! binary, a trigger in tests. The run takes a [`Shutdown`] as a parameter.
//!
//! The first request asks for a graceful stop (no new requests, in-flight
//! ones may finish, what is done is committed); a second one asks to stop at
//! once.

use tokio::sync::watch;

/// Which signal asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT / Ctrl-C: exit 130.
    Interrupt,
    /// SIGTERM: exit 143.
    Terminate,
}

impl Signal {
    /// What the run got, as its log says it.
    pub fn got(self) -> &'static str {
        match self {
            Signal::Interrupt => "got SIGINT (Ctrl-C)",
            Signal::Terminate => "got SIGTERM",
        }
    }

    /// How to make the run stop at once, in the words that fit whoever
    /// sent the signal.
    pub fn again(self) -> &'static str {
        match self {
            Signal::Interrupt => "press Ctrl-C again to stop at once",
            Signal::Terminate => "a second SIGTERM or SIGINT stops it at once",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Requests {
    first: Option<Signal>,
    count: u32,
}

/// Receives stop requests.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<Requests>,
}

/// Sends stop requests (tests, and the signal listener).
#[derive(Debug, Clone)]
pub struct Trigger {
    tx: std::sync::Arc<watch::Sender<Requests>>,
}

impl Trigger {
    /// Ask the run to stop (again).
    pub fn request(&self, signal: Signal) {
        self.tx.send_modify(|r| {
            r.first.get_or_insert(signal);
            r.count += 1;
        });
    }
}

impl Shutdown {
    /// A shutdown that can be triggered by hand.
    pub fn manual() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(Requests::default());
        (
            Trigger {
                tx: std::sync::Arc::new(tx),
            },
            Shutdown { rx },
        )
    }

    /// A shutdown that never comes.
    pub fn never() -> Shutdown {
        let (trigger, shutdown) = Shutdown::manual();
        std::mem::forget(trigger);
        shutdown
    }

    /// Listen for SIGINT and SIGTERM (Ctrl-C on other platforms). Must be
    /// called inside a tokio runtime; handlers are installed before it returns.
    pub fn from_signals() -> std::io::Result<Shutdown> {
        let (trigger, shutdown) = Shutdown::manual();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = int.recv() => trigger.request(Signal::Interrupt),
                        _ = term.recv() => trigger.request(Signal::Terminate),
                    }
                }
            });
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                trigger.request(Signal::Interrupt);
            }
        });
        Ok(shutdown)
    }

    /// Wait until at least `n` stop requests have come; returns the first
    /// signal. Never returns if they do not come.
    pub async fn wait_for(&mut self, n: u32) -> Signal {
        loop {
            let r = *self.rx.borrow_and_update();
            if r.count >= n {
                return r.first.expect("a request names its signal");
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The runtime a command runs on (the export, a sync, a key check): every
/// front door builds it here, the same way.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_requests_and_keeps_the_first_signal() {
        let (trigger, mut shutdown) = Shutdown::manual();
        trigger.request(Signal::Terminate);
        assert_eq!(shutdown.wait_for(1).await, Signal::Terminate);
        trigger.request(Signal::Interrupt);
        assert_eq!(shutdown.wait_for(2).await, Signal::Terminate);
    }
}
