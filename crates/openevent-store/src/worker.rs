//! Threads that own database connections and run whole units of work on them.
//!
//! A caller hands over a closure that runs a whole read or a whole transaction on a
//! connection's own thread, so a turn pays a handful of thread handoffs whatever its statement
//! count. SQLite gets one thread (it admits one writer anyway); PostgreSQL a pool of them, each
//! with its own connection, all taking work from one queue.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::StoreError;
use crate::db::Conn;

pub(crate) type BoxConn = Box<dyn Conn + Send>;

/// Opens another connection (for the pool's other threads, and to replace a broken one).
pub(crate) type Connect = Arc<dyn Fn() -> Result<BoxConn, StoreError> + Send + Sync>;

type Job = Box<dyn FnOnce(&mut dyn Conn) + Send>;

/// Runs `f` inside a transaction on `conn`: committed when it returns `Ok`, rolled back when it
/// fails or panics.
pub(crate) fn in_transaction<T>(
    conn: &mut dyn Conn,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.begin()?;
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut *conn)))
        .unwrap_or_else(|_| Err(StoreError::Internal("a database task panicked".into())));
    match outcome {
        Ok(v) => match conn.commit() {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = conn.rollback();
                Err(e)
            }
        },
        Err(e) => {
            let _ = conn.rollback();
            Err(e)
        }
    }
}

/// The threads that own the connections.
pub(crate) struct Worker {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker")
    }
}

/// One thread's loop: its connection (opened on first use when it has none yet, reopened when
/// the server dropped it) runs each job it takes from the shared queue.
fn serve(queue: &Mutex<mpsc::Receiver<Job>>, mut conn: Option<BoxConn>, connect: Option<&Connect>) {
    loop {
        let job = {
            let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if conn.as_ref().is_none_or(|c| c.is_broken())
            && let Some(connect) = connect
        {
            match connect() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    // The job answers with the reason through a connection that always fails.
                    job(&mut Unavailable(e.to_string()));
                    continue;
                }
            }
        }
        match conn.as_mut() {
            Some(c) => job(c.as_mut()),
            None => job(&mut Unavailable("no database connection".into())),
        }
    }
}

impl Worker {
    /// One thread per connection in `conns`, plus (with `connect`) threads up to `size` that
    /// open their own.
    pub(crate) fn spawn(
        conns: Vec<BoxConn>,
        connect: Option<(Connect, usize)>,
    ) -> Result<Self, StoreError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(receiver));
        let mut slots: Vec<Option<BoxConn>> = conns.into_iter().map(Some).collect();
        let (connect, size) = match connect {
            Some((c, size)) => (Some(c), size.max(slots.len())),
            None => (None, slots.len()),
        };
        slots.resize_with(size, || None);
        let mut threads = Vec::with_capacity(size);
        for (i, conn) in slots.into_iter().enumerate() {
            let queue = Arc::clone(&queue);
            let connect = connect.clone();
            let thread = std::thread::Builder::new()
                .name(format!("openevent-db-{i}"))
                .spawn(move || serve(&queue, conn, connect.as_ref()))
                .map_err(|e| {
                    StoreError::Internal(format!("cannot start a database thread: {e}"))
                })?;
            threads.push(thread);
        }
        Ok(Self {
            sender: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
        })
    }

    /// Runs `f` on a connection's thread and waits for its result without blocking the
    /// runtime.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Internal("a database task panicked".into())));
            let _ = tx.send(result);
        });
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in one transaction on a connection's thread.
    pub(crate) async fn transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |conn| in_transaction(conn, f)).await
    }

    /// Lets queued work finish, then closes the connections.
    pub(crate) fn close(&self) {
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.close();
    }
}

/// Stands in for a connection that could not be opened: every call fails with the reason.
struct Unavailable(String);

impl Unavailable {
    fn fail<T>(&self) -> Result<T, StoreError> {
        Err(StoreError::Unavailable(self.0.clone()))
    }
}

impl Conn for Unavailable {
    fn execute(&mut self, _: &str, _: &[crate::db::Value]) -> Result<u64, StoreError> {
        self.fail()
    }
    fn query(
        &mut self,
        _: &str,
        _: &[crate::db::Value],
    ) -> Result<Vec<crate::db::Row>, StoreError> {
        self.fail()
    }
    fn execute_batch(&mut self, _: &str) -> Result<(), StoreError> {
        self.fail()
    }
    fn backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }
    fn data_version(&mut self) -> Result<Option<i64>, StoreError> {
        self.fail()
    }
    fn lock_key(&mut self, _: &str) -> Result<(), StoreError> {
        self.fail()
    }
}
