//! Deadlines of runs, kept by one thread of the SDK's own instead of the caller's runtime.
//!
//! Almost every check is done long before its deadline, so the deadline is a timer that is armed
//! and disarmed on every run. On a Tokio runtime with no other timer pending, arming one wakes
//! the runtime's driver thread (it sleeps without a timeout and must start sleeping with one): a
//! thread wake-up per run, which on a small machine costs more than a round trip to a local
//! server. Here, arming a deadline is a lock and a map insert; the thread that keeps them sleeps
//! until the earliest one it knows of and is woken only for a deadline earlier than that. Runs
//! that follow each other keep finding it asleep until an earlier run's deadline, so they wake
//! nothing. It also needs no time driver of the caller's runtime.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The deadlines being waited for, by (when, id), and when the keeper will look next.
struct Keeper {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    waiting: BTreeMap<(Instant, u64), Waker>,
    /// When the keeper thread wakes up next by itself (`None`: it sleeps until notified).
    next_look: Option<Instant>,
}

static KEEPER: Keeper = Keeper {
    state: Mutex::new(State {
        waiting: BTreeMap::new(),
        next_look: None,
    }),
    wake: Condvar::new(),
};
static STARTED: OnceLock<bool> = OnceLock::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Keeper {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics under the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self) {
        let mut state = self.state();
        loop {
            let now = Instant::now();
            // Wake whoever's deadline has come.
            while let Some(entry) = state.waiting.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                entry.remove().wake();
            }
            // Sleep until the earliest deadline; with none, until the one slept for last has
            // passed (a run that follows then finds this thread asleep with a deadline before
            // its own, and wakes nothing), then until told.
            let target = state.waiting.keys().next().map(|&(when, _)| when);
            let target = match (target, state.next_look) {
                (Some(when), _) => Some(when),
                (None, Some(last)) if last > now => Some(last),
                (None, _) => None,
            };
            state.next_look = target;
            state = match target {
                Some(when) => {
                    let wait = when.saturating_duration_since(Instant::now());
                    self.wake
                        .wait_timeout(state, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// Starts the keeper thread once; `false` if it could not be started (deadlines then fall back
/// to Tokio's timers).
fn started() -> bool {
    *STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("healthcheck-deadlines".to_owned())
            .spawn(|| KEEPER.serve());
        match spawned {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%error, "could not start the thread that keeps health check deadlines; using Tokio's timers");
                false
            }
        }
    })
}

/// A future that is ready at `deadline`.
struct Sleep {
    deadline: Instant,
    /// The key of its entry, while armed.
    key: Option<(Instant, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.disarm();
            return Poll::Ready(());
        }
        let mut state = KEEPER.state();
        match self.key {
            Some(key) => match state.waiting.get_mut(&key) {
                Some(waker) => {
                    if !waker.will_wake(cx.waker()) {
                        waker.clone_from(cx.waker());
                    }
                }
                // Woken and removed by the keeper a moment before the deadline by our clock.
                None => {
                    state.waiting.insert(key, cx.waker().clone());
                }
            },
            None => {
                let key = (self.deadline, NEXT_ID.fetch_add(1, Ordering::Relaxed));
                state.waiting.insert(key, cx.waker().clone());
                self.key = Some(key);
                // Only a deadline before the keeper's next look needs to wake it.
                if state.next_look.is_none_or(|next| self.deadline < next) {
                    state.next_look = Some(self.deadline);
                    drop(state);
                    KEEPER.wake.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep {
    fn disarm(&mut self) {
        if let Some(key) = self.key.take() {
            KEEPER.state().waiting.remove(&key);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// `future`'s output, or `None` if `deadline` comes first.
pub(crate) async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    if !started() {
        return tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), future)
            .await
            .ok();
    }
    let mut future = std::pin::pin!(future);
    let mut sleep = Sleep {
        deadline,
        key: None,
    };
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        Pin::new(&mut sleep).poll(cx).map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_future_that_is_done_in_time_is_not_cut() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let output = timeout_at(deadline, async {
            tokio::task::yield_now().await;
            7
        })
        .await;
        assert_eq!(output, Some(7));
    }

    #[test]
    fn a_deadline_dropped_before_it_comes_is_disarmed() {
        assert!(started());
        let mut sleep = Box::pin(Sleep {
            deadline: Instant::now() + Duration::from_secs(60),
            key: None,
        });
        let mut cx = Context::from_waker(Waker::noop());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        let key = sleep.key.expect("armed");
        assert!(KEEPER.state().waiting.contains_key(&key));
        drop(sleep);
        assert!(!KEEPER.state().waiting.contains_key(&key), "disarmed");
    }

    #[tokio::test]
    async fn a_future_that_hangs_is_cut_at_its_deadline() {
        let started = Instant::now();
        let output = timeout_at(
            started + Duration::from_millis(50),
            std::future::pending::<()>(),
        )
        .await;
        let took = started.elapsed();
        assert_eq!(output, None);
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
    }

    #[tokio::test]
    async fn an_earlier_deadline_wakes_a_keeper_asleep_until_a_later_one() {
        let later = tokio::spawn(timeout_at(
            Instant::now() + Duration::from_secs(3),
            std::future::pending::<()>(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let output = timeout_at(
            started + Duration::from_millis(30),
            std::future::pending::<()>(),
        )
        .await;
        assert_eq!(output, None);
        assert!(started.elapsed() < Duration::from_millis(500));
        later.abort();
    }

    #[test]
    fn it_needs_no_time_driver() {
        // A runtime built without `enable_time`: Tokio's timers would panic here.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let output = runtime.block_on(timeout_at(
            Instant::now() + Duration::from_millis(20),
            std::future::pending::<()>(),
        ));
        assert_eq!(output, None);
    }
}
