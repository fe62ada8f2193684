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

/// What a transaction's body hands back: whether it succeeded (else its savepoint is rolled
/// back) and what to do once the enclosing transaction's fate is known (`None`: committed).
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// A read, or work that manages its own transaction.
type RunBody = Box<dyn FnOnce(&mut dyn Conn) + Send>;

/// A whole transaction's body; with group commit it may share one commit with others.
type TxBody = Box<dyn FnOnce(&mut dyn Conn) -> (bool, Finish) + Send>;

enum Job {
    Run(RunBody),
    Tx(TxBody),
}

/// Most transactions sharing one commit.
const GROUP_MAX: usize = 64;

/// A copy of a commit failure for each transaction that shared the commit (the kind is kept, so
/// that a full disk still reads as one).
fn shared_failure(e: &StoreError) -> StoreError {
    match e {
        StoreError::Database(rusqlite::Error::SqliteFailure(code, detail)) => {
            StoreError::Database(rusqlite::Error::SqliteFailure(*code, detail.clone()))
        }
        StoreError::Unavailable(reason) => StoreError::Unavailable(reason.clone()),
        other => StoreError::Internal(format!("the shared commit failed: {other}")),
    }
}

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
/// the server dropped it) runs each job it takes from the shared queue. With `group` (SQLite:
/// one connection, one writer), transactions waiting in the queue together share one commit —
/// one disk sync for all of them — each in its own savepoint, so one that fails leaves the
/// others whole.
fn serve(
    queue: &Mutex<mpsc::Receiver<Job>>,
    mut conn: Option<BoxConn>,
    connect: Option<&Connect>,
    group: bool,
) {
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => {
                let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
                match queue.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                }
            }
        };
        if conn.as_ref().is_none_or(|c| c.is_broken())
            && let Some(connect) = connect
        {
            match connect() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    // The job answers with the reason through a connection that always fails.
                    run_alone(&mut Unavailable(e.to_string()), job);
                    continue;
                }
            }
        }
        let mut unavailable = Unavailable("no database connection".into());
        let c: &mut dyn Conn = match conn.as_mut() {
            Some(c) => c.as_mut(),
            None => &mut unavailable,
        };
        match job {
            Job::Tx(first) if group => {
                let mut bodies = vec![first];
                {
                    let queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
                    while bodies.len() < GROUP_MAX {
                        match queue.try_recv() {
                            Ok(Job::Tx(body)) => bodies.push(body),
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                }
                commit_group(c, bodies);
            }
            job => run_alone(c, job),
        }
    }
}

fn run_alone(conn: &mut dyn Conn, job: Job) {
    match job {
        Job::Run(f) => f(conn),
        Job::Tx(body) => {
            if let Err(e) = conn.begin() {
                let (_, finish) = body(&mut Unavailable(e.to_string()));
                finish(Some(&e));
                return;
            }
            let (ok, finish) = body(conn);
            let outcome = if ok { conn.commit() } else { conn.rollback() };
            match outcome {
                Ok(()) => finish(None),
                Err(e) => {
                    let _ = conn.rollback();
                    finish(Some(&e));
                }
            }
        }
    }
}

/// Runs transaction bodies in one transaction, each in a savepoint, and commits once.
fn commit_group(conn: &mut dyn Conn, bodies: Vec<TxBody>) {
    if bodies.len() == 1 {
        let body = bodies.into_iter().next().expect("one");
        run_alone(conn, Job::Tx(body));
        return;
    }
    if let Err(e) = conn.begin() {
        for body in bodies {
            let (_, finish) = body(&mut Unavailable(e.to_string()));
            finish(Some(&e));
        }
        return;
    }
    let mut finished: Vec<Finish> = Vec::with_capacity(bodies.len());
    let mut broken: Option<StoreError> = None;
    for body in bodies {
        if let Some(e) = &broken {
            let (_, finish) = body(&mut Unavailable(e.to_string()));
            finish(Some(e));
            continue;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT group_member") {
            broken = Some(e);
            let e = broken.as_ref().expect("just set");
            let (_, finish) = body(&mut Unavailable(e.to_string()));
            finish(Some(e));
            continue;
        }
        let (ok, finish) = body(conn);
        let closed = if ok {
            conn.execute_batch("RELEASE group_member")
        } else {
            conn.execute_batch("ROLLBACK TO group_member")
                .and_then(|()| conn.execute_batch("RELEASE group_member"))
        };
        // Some errors (a full disk, an I/O error) make SQLite roll the whole transaction back:
        // then every member so far is gone, and nothing more may run outside a transaction.
        match closed {
            Ok(()) if conn.in_transaction() => finished.push(finish),
            Ok(()) => {
                broken = Some(StoreError::Internal(
                    "the database rolled the shared transaction back".into(),
                ));
                finished.push(finish);
            }
            Err(e) => {
                broken = Some(e);
                finished.push(finish);
            }
        }
    }
    let outcome = match broken {
        Some(e) => {
            let _ = conn.rollback();
            Err(e)
        }
        None => conn.commit().inspect_err(|_| {
            let _ = conn.rollback();
        }),
    };
    for finish in finished {
        finish(outcome.as_ref().err());
    }
}

impl Worker {
    /// One thread per connection in `conns`, plus (with `connect`) threads up to `size` that
    /// open their own; with `group`, queued transactions share commits (one thread only).
    pub(crate) fn spawn(
        conns: Vec<BoxConn>,
        connect: Option<(Connect, usize)>,
        group: bool,
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
                .spawn(move || serve(&queue, conn, connect.as_ref(), group))
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

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(job)
            .map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on a connection's thread and waits for its result without blocking the
    /// runtime.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Run(Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Internal("a database task panicked".into())));
            let _ = tx.send(result);
        })))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in one transaction on a connection's thread; `then` runs on that thread right
    /// after the commit, before any other work there. The answer comes once the commit is
    /// durable (on SQLite possibly shared with other transactions).
    pub(crate) async fn transaction_then<T, F, G>(&self, f: F, then: G) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
        G: FnOnce(&T) + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Job::Tx(Box::new(move |conn| {
            let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StoreError::Internal("a database task panicked".into())));
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |failed: Option<&StoreError>| {
                let answer = match (result, failed) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(e)) => Err(shared_failure(e)),
                    (Ok(v), None) => {
                        then(&v);
                        Ok(v)
                    }
                };
                let _ = tx.send(answer);
            });
            (ok, finish)
        })))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in one transaction on a connection's thread.
    pub(crate) async fn transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    {
        self.transaction_then(f, |_| {}).await
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
    fn in_transaction(&self) -> bool {
        false
    }
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
