//! A two-stage pipeline: workers prepare jobs in parallel, one consumer takes the results
//! in job order. Jobs are claimed in order and only while the bytes in flight stay under
//! a budget, so memory stays flat however large the site is.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, PoisonError};

struct Budget {
    next: usize,
    in_flight: u64,
    stopped: bool,
}

/// Runs `prepare` on every job on `threads` workers and hands the results, with their job
/// index, to `consume` in job order. `cost` is what a job's result may hold in memory; a job is claimed only
/// when it fits under `budget` (or when nothing else is in flight). The first error in
/// job order stops everything and is returned.
pub(crate) fn run<J, T, E>(
    jobs: &[J],
    threads: usize,
    budget: u64,
    cost: impl Fn(&J) -> u64 + Sync,
    prepare: impl Fn(&J) -> Result<T, E> + Sync,
    mut consume: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E>
where
    J: Sync,
    T: Send,
    E: Send,
{
    let state = Mutex::new(Budget {
        next: 0,
        in_flight: 0,
        stopped: false,
    });
    let freed = Condvar::new();
    let (sender, receiver) = mpsc::channel::<(usize, Result<T, E>)>();
    let claim = || -> Option<usize> {
        let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if guard.stopped || guard.next >= jobs.len() {
                return None;
            }
            let index = guard.next;
            let needed = cost(&jobs[index]);
            if guard.in_flight == 0 || guard.in_flight + needed <= budget {
                guard.next += 1;
                guard.in_flight += needed;
                return Some(index);
            }
            guard = freed.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
    };
    let release = |index: usize| {
        let mut guard = state.lock().unwrap_or_else(PoisonError::into_inner);
        guard.in_flight -= cost(&jobs[index]);
        freed.notify_all();
    };
    let stop = || {
        state.lock().unwrap_or_else(PoisonError::into_inner).stopped = true;
        freed.notify_all();
    };

    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let sender = sender.clone();
            let claim = &claim;
            let prepare = &prepare;
            scope.spawn(move || {
                while let Some(index) = claim() {
                    if sender.send((index, prepare(&jobs[index]))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(sender);

        let mut waiting: BTreeMap<usize, Result<T, E>> = BTreeMap::new();
        let mut expected = 0;
        let outcome = loop {
            if expected == jobs.len() {
                break Ok(());
            }
            if let Some(result) = waiting.remove(&expected) {
                let outcome = result.and_then(|value| consume(expected, value));
                release(expected);
                if let Err(error) = outcome {
                    break Err(error);
                }
                expected += 1;
                continue;
            }
            match receiver.recv() {
                Ok((index, result)) => {
                    waiting.insert(index, result);
                }
                // Every worker has ended without producing `expected`: cannot happen
                // unless a worker panicked, which the scope re-raises.
                Err(_) => break Ok(()),
            }
        };
        stop();
        // Results still queued hold buffers and temporary files: drop them now.
        drop(waiting);
        drop(receiver);
        outcome
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn results_arrive_in_order_under_the_budget() {
        let jobs: Vec<u64> = (0..500).map(|i| (i * 7919) % 97 + 1).collect();
        let in_flight = AtomicU64::new(0);
        let peak = AtomicU64::new(0);
        let mut seen = Vec::new();
        let result: Result<(), ()> = run(
            &jobs,
            4,
            200,
            |&job| job,
            |&job| {
                let now = in_flight.fetch_add(job, Ordering::SeqCst) + job;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::yield_now();
                Ok(job)
            },
            |_, job| {
                in_flight.fetch_sub(job, Ordering::SeqCst);
                seen.push(job);
                Ok(())
            },
        );
        result.unwrap();
        assert_eq!(seen, jobs);
        assert!(
            peak.load(Ordering::SeqCst) <= 200,
            "peak {}",
            peak.load(Ordering::SeqCst)
        );
    }

    #[test]
    fn the_first_error_in_job_order_wins() {
        let jobs: Vec<usize> = (0..100).collect();
        let mut consumed = 0;
        let result = run(
            &jobs,
            3,
            10,
            |_| 1,
            |&job| {
                if job == 40 || job == 70 {
                    Err(job)
                } else {
                    Ok(job)
                }
            },
            |_, _| {
                consumed += 1;
                Ok(())
            },
        );
        assert_eq!(result, Err(40));
        assert_eq!(consumed, 40);
    }

    #[test]
    fn a_job_larger_than_the_budget_still_runs() {
        let jobs = [5u64, 1000, 5];
        let mut seen = Vec::new();
        let result: Result<(), ()> = run(
            &jobs,
            2,
            100,
            |&j| j,
            |&j| Ok(j),
            |_, j| {
                seen.push(j);
                Ok(())
            },
        );
        result.unwrap();
        assert_eq!(seen, jobs);
    }
}
