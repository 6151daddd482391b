//! The Tokio runtime that the language bindings and the blocking client run on.
//!
//! One multi-thread runtime per process, on named internal threads (`mqttkit-rt`),
//! started on first use and shared by every client and broker. Each user holds a
//! [`RuntimeUser`]; when the last one is dropped the runtime shuts down and joins its
//! threads (from outside the runtime) so that nothing is left behind, and the next user
//! starts a fresh one. After `fork()` the child's first use builds a new runtime: the
//! parent's threads do not exist there (Python's `multiprocessing` relies on this).
//!
//! Rust users of the async API never need this module: they run on their own runtime.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

/// How long shutting down waits for the runtime's tasks to finish.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

struct Global {
    runtime: Option<Runtime>,
    pid: u32,
    users: usize,
}

static GLOBAL: Mutex<Global> = Mutex::new(Global { runtime: None, pid: 0, users: 0 });

fn lock() -> std::sync::MutexGuard<'static, Global> {
    // A panic while holding the lock cannot leave Global inconsistent: recover.
    GLOBAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn build() -> io::Result<Runtime> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("mqttkit-rt")
        .enable_all()
        .build()
}

/// A registered user of the shared runtime. Dropping the last one shuts the runtime down.
///
/// A user belongs to the process that acquired it: in a `fork()`ed child, one inherited from
/// the parent neither counts for nor shuts down the child's own runtime, and blocking on it
/// returns `None` at once (its runtime's threads stayed in the parent).
#[derive(Debug)]
pub struct RuntimeUser {
    handle: Handle,
    pid: u32,
}

impl RuntimeUser {
    /// Registers a user, starting the runtime if needed.
    ///
    /// # Errors
    /// When the operating system refuses to start the runtime's threads.
    pub fn acquire() -> io::Result<RuntimeUser> {
        let mut global = lock();
        let pid = std::process::id();
        if global.pid != pid {
            // Forked child: the runtime's threads stayed in the parent. Its memory is not
            // ours to free safely (dropping would try to join threads that do not exist).
            if let Some(stale) = global.runtime.take() {
                std::mem::forget(stale);
            }
            global.users = 0;
            global.pid = pid;
        }
        if global.runtime.is_none() {
            global.runtime = Some(build()?);
        }
        global.users += 1;
        let handle = global.runtime.as_ref().map(|rt| rt.handle().clone()).expect("runtime was just started");
        Ok(RuntimeUser { handle, pid })
    }

    /// Whether this user was acquired in this process (not inherited through `fork()`).
    pub fn is_from_this_process(&self) -> bool {
        self.pid == std::process::id()
    }

    /// The runtime's handle, to spawn tasks on it.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` to completion on the runtime, blocking this thread. Must not be
    /// called from inside an async context.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Runs `future` on the runtime, blocking this thread. Returns `None` instead of
    /// panicking when called from inside an async context (where blocking would stall it),
    /// and instead of hanging when the user was inherited through `fork()`.
    pub fn try_block_on<F: std::future::Future>(&self, future: F) -> Option<F::Output> {
        if Handle::try_current().is_ok() || !self.is_from_this_process() {
            return None;
        }
        Some(self.handle.block_on(future))
    }
}

impl Clone for RuntimeUser {
    fn clone(&self) -> Self {
        let mut global = lock();
        if self.is_from_this_process() && global.pid == self.pid {
            global.users += 1;
        }
        RuntimeUser { handle: self.handle.clone(), pid: self.pid }
    }
}

impl Drop for RuntimeUser {
    fn drop(&mut self) {
        let runtime = {
            let mut global = lock();
            if !self.is_from_this_process() || global.pid != self.pid {
                return;
            }
            global.users = global.users.saturating_sub(1);
            if global.users > 0 {
                return;
            }
            global.runtime.take()
        };
        if let Some(runtime) = runtime {
            shut_down(runtime);
        }
    }
}

/// Shuts a runtime down without panicking wherever it is called from: joining its threads
/// from outside any async context, in the background from inside one.
fn shut_down(runtime: Runtime) {
    if Handle::try_current().is_ok() {
        runtime.shutdown_background();
    } else {
        runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    }
}

/// Whether the shared runtime is running (for tests and diagnostics).
pub fn is_running() -> bool {
    let global = lock();
    global.pid == std::process::id() && global.runtime.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                    .filter(|name| name.trim() == "mqttkit-rt")
                    .count()
            })
            .unwrap_or(0)
    }

    #[test]
    fn starts_lazily_and_leaves_no_thread_behind() {
        let first = RuntimeUser::acquire().unwrap();
        let second = first.clone();
        assert_eq!(first.block_on(async { 40 + 2 }), 42);
        assert!(is_running());
        drop(first);
        assert!(is_running(), "one user remains");
        drop(second);
        assert!(!is_running());
        assert_eq!(runtime_threads(), 0, "threads were joined");

        // Blocking inside an async context is refused, not a panic; dropping the last user
        // there shuts down in the background.
        let user = RuntimeUser::acquire().unwrap();
        let inner = user.clone();
        let refused = user.block_on(async move { inner.try_block_on(async { 1 }).is_none() });
        assert!(refused);
        assert!(user.handle().block_on(async { tokio::runtime::Handle::try_current().is_ok() }));
        drop(user);
        assert!(!is_running());

        // A user from another process (what a fork()ed child inherits) blocks on nothing and
        // neither counts for nor shuts down this process's runtime.
        let own = RuntimeUser::acquire().unwrap();
        let inherited = RuntimeUser { handle: own.handle().clone(), pid: std::process::id().wrapping_add(1) };
        assert!(inherited.try_block_on(async { 1 }).is_none());
        let copy = inherited.clone();
        drop(inherited);
        drop(copy);
        assert!(is_running(), "the inherited users did not shut the runtime down");
        drop(own);
        assert!(!is_running());
    }
}
